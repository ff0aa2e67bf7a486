from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.auth import request_user_id
from ledger.currencies import money
from payments.models import BankTransaction, VirtualAccount
from payments.treasury.selectors import deposits_for_user, virtual_account_for_user
from payments.treasury.services import deposit_receive, virtual_account_create


class VirtualAccountOutput(serializers.ModelSerializer[VirtualAccount]):
    bvn = serializers.CharField(source="bvn_masked", help_text="Only the last 4 digits are ever shown.")

    class Meta:
        model = VirtualAccount
        fields = [
            "account_number",
            "account_name",
            "bank_name",
            "bank_code",
            "provider",
            "currency",
            "status",
            "bvn",
            "created_at",
        ]


class TreasuryAccountsView(APIView):
    """Make the caller's one static virtual account; asking again returns the same account."""

    @extend_schema_serializer(component_name="VirtualAccountInput")
    class Input(serializers.Serializer[Any]):
        bvn = serializers.CharField(max_length=32)
        first_name = serializers.CharField(max_length=64)
        last_name = serializers.CharField(max_length=64)
        phone = serializers.CharField(max_length=32)
        email = serializers.EmailField(max_length=254)

    @extend_schema(
        operation_id="treasury_account_create",
        request=Input,
        responses={201: VirtualAccountOutput, 200: VirtualAccountOutput},
    )
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        account, created = virtual_account_create(user_id=request_user_id(request), **data.validated_data)
        return Response(VirtualAccountOutput(account).data, status=201 if created else 200)


class TreasuryAccountMeView(APIView):
    @extend_schema(operation_id="treasury_account_me", responses={200: VirtualAccountOutput})
    def get(self, request: Request) -> Response:
        return Response(VirtualAccountOutput(virtual_account_for_user(user_id=request_user_id(request))).data)


class DepositOutput(serializers.ModelSerializer[BankTransaction]):
    amount = serializers.SerializerMethodField()
    account_number = serializers.CharField(source="virtual_account.account_number")

    class Meta:
        model = BankTransaction
        fields = [
            "id",
            "account_number",
            "amount",
            "provider",
            "reference",
            "sender_name",
            "sender_bank",
            "narration",
            "transaction_date",
            "created_at",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_amount(self, obj: BankTransaction) -> dict[str, object]:
        return money(obj.amount, obj.currency)


class DepositsView(ListAPIView[BankTransaction]):
    """The transfers credited to the caller's virtual account, newest first."""

    serializer_class = DepositOutput

    def get_queryset(self) -> Any:
        return deposits_for_user(user_id=request_user_id(self.request)).select_related("virtual_account")


class _DepositWebhook(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []
    provider = ""

    def post(self, request: Request) -> Response:
        result = deposit_receive(provider_name=self.provider, body=request.body, headers=request.headers)
        return Response(result.ack)


class WemaWebhookView(_DepositWebhook):
    """Wema's transfer notification, signed `X-Wema-Signature` (HMAC-SHA512 of the raw body)."""

    provider = "wema"

    @extend_schema(operation_id="treasury_webhook_wema", request=dict, responses={200: dict})
    def post(self, request: Request) -> Response:
        return super().post(request)


class PaystackWebhookView(_DepositWebhook):
    """Paystack's `charge.success` on a dedicated account, signed `x-paystack-signature`."""

    provider = "paystack"

    @extend_schema(operation_id="treasury_webhook_paystack", request=dict, responses={200: dict})
    def post(self, request: Request) -> Response:
        return super().post(request)
