"""Cashout over REST: the same services as the WebSocket messages.

- `POST /api/bets/<id>/cashout-offers` `{fraction?}`: an offer (201).
- `POST /api/cashout-offers/<id>/accept` (Idempotency-Key): pays it (200) or says why not.
- `PUT /api/bets/<id>/auto-cashout` `{target}`: arm or move the target; `null` clears it.

A body carrying an amount is refused (400 `amount_not_accepted`): the server sets every amount.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from betting.api.public import StrictIntegerField
from betting.api.render import MoneyOut
from betting.models import BetSlip
from core.auth import request_user_id
from core.errors import ValidationFailed
from core.idempotency import idempotent
from ledger.currencies import money
from realtime.cashout.auto import auto_cashout_set
from realtime.cashout.data import amount_fields_refuse, fraction_parse
from realtime.cashout.models import CashoutOffer
from realtime.cashout.services import cashout_offer_accept, cashout_offer_create


def _body(request: Request) -> dict[str, Any]:
    data = request.data
    if data is None or data == {} or data == "":
        return {}
    if not isinstance(data, dict):
        raise ValidationFailed("The body is a JSON object.", code="malformed_request")
    amount_fields_refuse(data)
    return dict(data)


class OfferOut(serializers.Serializer[CashoutOffer]):
    id = serializers.IntegerField()
    slip = serializers.IntegerField(source="slip_id")
    status = serializers.CharField()
    origin = serializers.CharField(source="source", help_text="player, or auto (a target was reached).")
    fraction = serializers.DecimalField(max_digits=5, decimal_places=4)
    amount = serializers.SerializerMethodField()
    whole_offer = serializers.SerializerMethodField(help_text="The whole slip's offer the amount derives from.")
    stake_cashed = serializers.SerializerMethodField()
    expires_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    reason = serializers.CharField()

    @extend_schema_field(MoneyOut)
    def get_amount(self, obj: CashoutOffer) -> dict[str, object]:
        return money(obj.amount, obj.currency)

    @extend_schema_field(MoneyOut)
    def get_whole_offer(self, obj: CashoutOffer) -> dict[str, object]:
        return money(obj.value, obj.currency)

    @extend_schema_field(MoneyOut)
    def get_stake_cashed(self, obj: CashoutOffer) -> dict[str, object]:
        return money(obj.stake_cashed, obj.currency)


class CashedSlipOut(serializers.Serializer[BetSlip]):
    id = serializers.IntegerField()
    status = serializers.CharField()
    stake = serializers.SerializerMethodField()
    potential_payout = serializers.SerializerMethodField()
    payout = serializers.SerializerMethodField()

    @extend_schema_field(MoneyOut)
    def get_stake(self, obj: BetSlip) -> dict[str, object]:
        return money(obj.stake, obj.currency)

    @extend_schema_field(MoneyOut)
    def get_potential_payout(self, obj: BetSlip) -> dict[str, object]:
        return money(obj.potential_payout, obj.currency)

    @extend_schema_field(MoneyOut(allow_null=True))
    def get_payout(self, obj: BetSlip) -> dict[str, object] | None:
        return money(obj.payout, obj.currency) if obj.payout is not None else None


class CashoutOffersView(APIView):
    """Price the caller's pending slip (or a fraction of it) and offer that for 30 s."""

    class Input(serializers.Serializer[Any]):
        class Meta:
            ref_name = "CashoutOfferRequest"

        fraction = serializers.DecimalField(
            max_digits=5, decimal_places=4, required=False, allow_null=True, help_text="0 < q <= 1; absent: all."
        )

    @extend_schema(operation_id="cashout_offers_create", request=Input, responses={201: OfferOut})
    def post(self, request: Request, slip_id: int) -> Response:
        data = self.Input(data=_body(request))
        data.is_valid(raise_exception=True)
        offered = cashout_offer_create(
            user_id=request_user_id(request),
            slip_id=slip_id,
            fraction=fraction_parse(data.validated_data.get("fraction")),
        )
        return Response(OfferOut(offered.offer).data, status=201)


class CashoutAcceptView(APIView):
    """Accept an offer by its id: re-priced, then paid at its amount unless the price fell (409
    `price_changed` with a fresh offer in `details.fresh_offer`)."""

    class Output(serializers.Serializer[Any]):
        class Meta:
            ref_name = "CashoutAccepted"

        offer = OfferOut()
        slip = CashedSlipOut()
        transaction = serializers.IntegerField()

    @extend_schema(
        operation_id="cashout_offers_accept",
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=True)],
        request=None,
        responses={200: Output},
    )
    @idempotent
    def post(self, request: Request, offer_id: int) -> Response:
        _body(request)
        cashed = cashout_offer_accept(user_id=request_user_id(request), offer_id=offer_id)
        body = {"offer": cashed.offer, "slip": cashed.slip, "transaction": cashed.transaction_id}
        return Response(self.Output(body).data)


class AutoCashoutView(APIView):
    """Cash the slip out by itself once its offer reaches `target` (minor units); null clears."""

    class Input(serializers.Serializer[Any]):
        class Meta:
            ref_name = "AutoCashoutSet"

        target = StrictIntegerField(min_value=1, allow_null=True)

    class Output(serializers.Serializer[Any]):
        class Meta:
            ref_name = "AutoCashout"

        slip = serializers.IntegerField()
        status = serializers.CharField()
        target = MoneyOut(allow_null=True)

    @extend_schema(operation_id="auto_cashout_set", request=Input, responses={200: Output})
    def put(self, request: Request, slip_id: int) -> Response:
        data = self.Input(data=_body(request))
        data.is_valid(raise_exception=True)
        auto = auto_cashout_set(user_id=request_user_id(request), slip_id=slip_id, target=data.validated_data["target"])
        body = {
            "slip": slip_id,
            "status": auto.status if auto is not None else "cleared",
            "target": money(auto.target, auto.currency) if auto is not None else None,
        }
        return Response(self.Output(body).data)
