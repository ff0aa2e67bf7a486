from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.auth import request_user_id
from core.errors import NotFound, ValidationFailed
from core.idempotency import idempotent
from ledger.currencies import CURRENCY_CHOICES, get_currency, money
from ledger.models import Posting
from ledger.selectors import user_postings, wallets_for_user
from ledger.services import deposit_record
from users.models import User


class MoneyOutput(serializers.Serializer[Any]):
    """How an amount travels: integer minor units, the currency, and a display string."""

    amount = serializers.IntegerField()
    currency = serializers.CharField()
    display = serializers.CharField()


class WalletsView(APIView):
    class WalletOutput(serializers.Serializer[Any]):
        currency = serializers.CharField()
        available = serializers.SerializerMethodField()
        receivable = serializers.SerializerMethodField()

        @extend_schema_field(MoneyOutput)
        def get_available(self, obj: Any) -> dict[str, object]:
            return money(obj.available, obj.currency)

        @extend_schema_field(MoneyOutput)
        def get_receivable(self, obj: Any) -> dict[str, object]:
            return money(obj.receivable, obj.currency)

    @extend_schema(operation_id="wallets_list", responses={200: WalletOutput(many=True)})
    def get(self, request: Request) -> Response:
        wallets = wallets_for_user(user_id=request_user_id(request))
        return Response({"results": self.WalletOutput(wallets, many=True).data})


class WalletTransactionsView(ListAPIView[Posting]):
    """The user's own postings in one currency, newest first."""

    class PostingOutput(serializers.ModelSerializer[Posting]):
        account = serializers.CharField(source="account.kind")
        amount = serializers.SerializerMethodField()
        transaction = serializers.IntegerField(source="transaction_id")
        kind = serializers.CharField(source="transaction.kind")
        reference = serializers.CharField(source="transaction.reference")
        created_at = serializers.DateTimeField(source="transaction.created_at")

        class Meta:
            model = Posting
            fields = ["id", "transaction", "kind", "reference", "account", "amount", "created_at"]

        @extend_schema_field(MoneyOutput)
        def get_amount(self, obj: Posting) -> dict[str, object]:
            return money(obj.amount, obj.currency)

    serializer_class = PostingOutput

    def get_queryset(self) -> Any:
        currency = self.kwargs["currency"].upper()
        try:
            get_currency(currency)
        except ValidationFailed:
            raise NotFound(f"No wallet in {currency!r}.") from None
        return user_postings(user_id=request_user_id(self.request), currency=currency)


class SimulatedDepositView(APIView):
    """Staff only, and off in production mode: credit a user as if a bank deposit arrived."""

    permission_classes = [IsAdminUser]

    class DepositInput(serializers.Serializer[Any]):
        user = serializers.IntegerField(min_value=1)
        amount = serializers.IntegerField(min_value=1, max_value=10**15)
        currency = serializers.ChoiceField(choices=CURRENCY_CHOICES)
        reference = serializers.CharField(max_length=100)

    @extend_schema(operation_id="simulate_deposit", request=DepositInput, responses={201: dict})
    @idempotent
    def post(self, request: Request) -> Response:
        if not settings.SIMULATED_DEPOSITS_ENABLED:
            raise NotFound("Simulated deposits are off.")
        data = self.DepositInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if not User.objects.filter(pk=values["user"]).exists():
            raise NotFound("No such user.", details={"user": values["user"]})
        tx = deposit_record(
            user_id=values["user"],
            currency=values["currency"],
            amount=values["amount"],
            provider="simulated",
            reference=values["reference"],
        )
        return Response(
            {"transaction": tx.pk, "key": tx.idempotency_key, **money(values["amount"], values["currency"])},
            status=201,
        )
