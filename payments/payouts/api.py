"""Player-facing payout API: the payout destination and withdrawals; staff approvals."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.auth import request_user_id
from core.errors import NotFound
from core.idempotency import idempotent
from ledger.currencies import CURRENCY_CHOICES, money
from payments.models import Payee, Payout
from payments.payouts import selectors, services


class PayoutOutput(serializers.ModelSerializer[Payout]):
    amount = serializers.SerializerMethodField()

    class Meta:
        model = Payout
        fields = [
            "id",
            "status",
            "amount",
            "attempts",
            "next_attempt_at",
            "failure_code",
            "failure_message",
            "failed_after_paid",
            "created_at",
            "queued_at",
            "approved_at",
            "paid_at",
            "failed_at",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_amount(self, obj: Payout) -> dict[str, object]:
        return money(obj.amount, obj.currency)


class PayeeOutput(serializers.ModelSerializer[Payee]):
    class Meta:
        model = Payee
        fields = ["stripe_account_id", "status", "flag_code", "flag_reason", "flagged_at", "updated_at"]


class PayoutDestinationView(APIView):
    """The caller's Stripe connected account (acct_...), where withdrawals are paid."""

    @extend_schema_serializer(component_name="PayoutDestinationInput")
    class Input(serializers.Serializer[Any]):
        stripe_account_id = serializers.CharField(max_length=64)

    @extend_schema(operation_id="payout_destination_get", responses={200: PayeeOutput})
    def get(self, request: Request) -> Response:
        payee = selectors.payee_for_user(user_id=request_user_id(request))
        if payee is None:
            raise NotFound("No payout destination linked yet.")
        return Response(PayeeOutput(payee).data)

    @extend_schema(operation_id="payout_destination_link", request=Input, responses={200: PayeeOutput})
    def put(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        payee = services.payee_link(
            user_id=request_user_id(request), stripe_account_id=data.validated_data["stripe_account_id"]
        )
        return Response(PayeeOutput(payee).data)


class WithdrawalsView(ListAPIView[Payout]):
    """`GET` the caller's withdrawals, newest first; `POST` one (`Idempotency-Key` required)."""

    serializer_class = PayoutOutput

    @extend_schema_serializer(component_name="WithdrawalInput")
    class Input(serializers.Serializer[Any]):
        amount = serializers.IntegerField(min_value=1, max_value=10**15)
        currency = serializers.ChoiceField(choices=CURRENCY_CHOICES)

    def get_queryset(self) -> Any:
        return selectors.payouts_for_user(user_id=request_user_id(self.request))

    @extend_schema(operation_id="withdrawal_create", request=Input, responses={201: PayoutOutput})
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        payout = services.payout_request(user_id=request_user_id(request), **data.validated_data)
        return Response(PayoutOutput(payout).data, status=201)


class WithdrawalCancelView(APIView):
    @extend_schema(operation_id="withdrawal_cancel", request=None, responses={200: PayoutOutput})
    @idempotent
    def post(self, request: Request, payout_id: int) -> Response:
        payout = services.payout_cancel(payout_id=payout_id, user_id=request_user_id(request))
        return Response(PayoutOutput(payout).data)


class WithdrawalDecisionInput(serializers.Serializer[Any]):
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class WithdrawalApproveView(APIView):
    """Staff: release a withdrawal above the threshold (maker-checker: not its requester)."""

    permission_classes = [IsAdminUser]

    @extend_schema(operation_id="withdrawal_approve", request=WithdrawalDecisionInput, responses={200: PayoutOutput})
    @idempotent
    def post(self, request: Request, payout_id: int) -> Response:
        payout = services.payout_approve(payout_id=payout_id, approver_id=request_user_id(request))
        return Response(PayoutOutput(payout).data)


class WithdrawalRejectView(APIView):
    """Staff: refuse a withdrawal waiting for approval; the money goes back to the wallet."""

    permission_classes = [IsAdminUser]

    @extend_schema(operation_id="withdrawal_reject", request=WithdrawalDecisionInput, responses={200: PayoutOutput})
    @idempotent
    def post(self, request: Request, payout_id: int) -> Response:
        data = WithdrawalDecisionInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        payout = services.payout_reject(
            payout_id=payout_id, operator_id=request_user_id(request), note=data.validated_data["note"]
        )
        return Response(PayoutOutput(payout).data)
