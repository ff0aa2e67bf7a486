"""The Up/Down API: the current round, a round by code, placing a bet, and the value locked."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from betting.models import Round, RoundBet, Side
from betting.rounds.nyse import NEW_YORK
from betting.rounds.selectors import round_current, round_get, round_pools, round_user_bets, tvl
from betting.rounds.services import round_bet_place
from core.auth import request_user_id
from core.errors import NotFound
from core.idempotency import idempotency_key_from, idempotent
from core.metrics import TVL
from ledger.currencies import MAX_AMOUNT, money


def _price(value: Any) -> str | None:
    return None if value is None else format(value.normalize(), "f")


class StrictAmountField(serializers.IntegerField):
    """A JSON integer of minor units: "100", 100.0 and true are refused, not coerced."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class BetOutput(serializers.ModelSerializer[RoundBet]):
    round = serializers.CharField(source="round.code")
    amount = serializers.SerializerMethodField()
    payout = serializers.SerializerMethodField()
    placed_at = serializers.DateTimeField(default_timezone=NEW_YORK)
    settled_at = serializers.DateTimeField(default_timezone=NEW_YORK)

    class Meta:
        model = RoundBet
        fields = ["id", "round", "side", "amount", "status", "payout", "placed_at", "settled_at"]

    def get_amount(self, bet: RoundBet) -> dict[str, object]:
        return money(bet.amount, bet.currency)

    def get_payout(self, bet: RoundBet) -> dict[str, object] | None:
        return money(bet.payout, bet.currency) if bet.status != RoundBet.Status.PENDING else None


class RoundOutput(serializers.Serializer[Round]):
    code = serializers.CharField()
    asset = serializers.CharField()
    currency = serializers.CharField()
    status = serializers.CharField()
    result = serializers.SerializerMethodField()
    void_reason = serializers.SerializerMethodField()
    trading_date = serializers.DateField()
    early_close = serializers.BooleanField()
    times = serializers.SerializerMethodField()
    reference = serializers.SerializerMethodField()
    close = serializers.SerializerMethodField()
    pools = serializers.SerializerMethodField()
    fee = serializers.SerializerMethodField()
    my_bets = serializers.SerializerMethodField()

    def get_result(self, obj: Round) -> str | None:
        return obj.result or None

    def get_void_reason(self, obj: Round) -> str | None:
        return obj.void_reason or None

    def get_times(self, obj: Round) -> dict[str, str]:
        names = ("open_at", "lock_at", "close_at", "settle_at", "void_after")
        return {name: getattr(obj, name).astimezone(NEW_YORK).isoformat() for name in names}

    def get_reference(self, obj: Round) -> dict[str, Any]:
        return {
            "date": obj.reference_date.isoformat(),
            "price": _price(obj.reference_price),
            "source": obj.reference_source or None,
        }

    def get_close(self, obj: Round) -> dict[str, Any]:
        return {"price": _price(obj.closing_price), "source": obj.closing_source or None}

    def get_pools(self, obj: Round) -> dict[str, Any]:
        pools = round_pools(round=obj)
        return {
            "UP": {**money(pools.up, obj.currency), "bets": pools.up_bets},
            "DOWN": {**money(pools.down, obj.currency), "bets": pools.down_bets},
            "total": money(pools.total, obj.currency),
        }

    def get_fee(self, obj: Round) -> dict[str, object] | None:
        return money(obj.fee, obj.currency) if obj.result else None

    def get_my_bets(self, obj: Round) -> list[dict[str, Any]] | None:
        user_id = self.context.get("user_id")
        if user_id is None:
            return None
        return list(BetOutput(round_user_bets(round=obj, user_id=user_id).select_related("round"), many=True).data)


def _round_response(request: Request, found: Round) -> Response:
    user_id = request.user.pk if request.user and request.user.is_authenticated else None
    return Response(RoundOutput(found, context={"user_id": user_id}).data)


class RoundCurrentView(APIView):
    """The round taking bets (else the latest): times in America/New_York, pools, your bets."""

    permission_classes = [AllowAny]

    @extend_schema(operation_id="rounds_current", responses={200: RoundOutput})
    def get(self, request: Request) -> Response:
        found = round_current(now=timezone.now())
        if found is None:
            raise NotFound("No round has been opened yet.", code="round_not_found")
        return _round_response(request, found)


class RoundDetailView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(operation_id="rounds_detail", responses={200: RoundOutput})
    def get(self, request: Request, code: str) -> Response:
        return _round_response(request, round_get(code=code))


class RoundCurrentBetsView(APIView):
    """Bet on the round taking bets: the stake moves from your wallet to escrow."""

    permission_classes = [IsAuthenticated]

    class Input(serializers.Serializer[Any]):
        side = serializers.ChoiceField(choices=Side.choices)
        amount = StrictAmountField(min_value=1, max_value=MAX_AMOUNT)

    @extend_schema(operation_id="rounds_current_bet", request=Input, responses={201: BetOutput})
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        bet = round_bet_place(
            user_id=request_user_id(request),
            side=data.validated_data["side"],
            amount=data.validated_data["amount"],
            idempotency_key=idempotency_key_from(request),
        )
        bet = RoundBet.objects.select_related("round").get(pk=bet.pk)
        return Response(BetOutput(bet).data, status=201)


class TvlView(APIView):
    """Value locked per currency: players' wallets, stakes in escrow, and the Up/Down pools among them."""

    permission_classes = [AllowAny]

    class Output(serializers.Serializer[Any]):
        currency = serializers.CharField()
        wallets = serializers.SerializerMethodField()
        escrow = serializers.SerializerMethodField()
        pools = serializers.SerializerMethodField()
        total = serializers.SerializerMethodField()

        def get_wallets(self, obj: Any) -> dict[str, object]:
            return money(obj.wallets, obj.currency)

        def get_escrow(self, obj: Any) -> dict[str, object]:
            return money(obj.escrow, obj.currency)

        def get_pools(self, obj: Any) -> dict[str, object]:
            return money(obj.pools, obj.currency)

        def get_total(self, obj: Any) -> dict[str, object]:
            return money(obj.total, obj.currency)

    @extend_schema(operation_id="tvl", responses={200: Output(many=True)})
    def get(self, request: Request) -> Response:
        rows = tvl()
        for row in rows:
            TVL.labels(row.currency).set(row.total)
        return Response({"currencies": self.Output(rows, many=True).data})
