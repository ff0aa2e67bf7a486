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
from core.idempotency import idempotency_key_from, idempotent
from ledger.currencies import money
from payments.models import TopUp
from payments.topup.callback import topup_callback_receive
from payments.topup.selectors import topup_for_user, topups_for_user
from payments.topup.services import topup_request


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: no strings, floats or booleans (an amount is never guessed at)."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return int(super().to_internal_value(data))


class TopUpOutput(serializers.ModelSerializer[TopUp]):
    type = serializers.CharField(source="kind")
    amount = serializers.SerializerMethodField()
    flagged = serializers.SerializerMethodField()

    class Meta:
        model = TopUp
        fields = [
            "id",
            "transid",
            "status",
            "phone",
            "carrier",
            "type",
            "amount",
            "provider",
            "provider_reference",
            "result_code",
            "message",
            "failure_code",
            "flagged",
            "created_at",
            "submitted_at",
            "completed_at",
        ]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_amount(self, obj: TopUp) -> dict[str, object]:
        return money(obj.amount, obj.currency)

    def get_flagged(self, obj: TopUp) -> bool:
        return obj.flagged_at is not None


class TopUpListCreateView(ListAPIView[TopUp]):
    """`POST` buys airtime or data with the wallet; `GET` lists the caller's top-ups, newest first."""

    serializer_class = TopUpOutput

    @extend_schema_serializer(component_name="TopUpInput")
    class Input(serializers.Serializer[Any]):
        phone = serializers.CharField(max_length=32)
        carrier = serializers.CharField(max_length=16)
        amount = StrictIntegerField(help_text="Minor units (kobo), whole naira.")
        type = serializers.CharField(max_length=16, default="airtime")

    def get_queryset(self) -> Any:
        return topups_for_user(user_id=request_user_id(self.request))

    @extend_schema(operation_id="topup_create", request=Input, responses={201: TopUpOutput})
    @idempotent
    def post(self, request: Request) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        topup = topup_request(
            user_id=request_user_id(request),
            phone=values["phone"],
            carrier=values["carrier"],
            kind=values["type"],
            amount=values["amount"],
            client_key=idempotency_key_from(request),
        )
        return Response(TopUpOutput(topup).data, status=201)


class TopUpDetailView(APIView):
    @extend_schema(operation_id="topup_get", responses={200: TopUpOutput})
    def get(self, request: Request, topup_id: int) -> Response:
        topup = topup_for_user(user_id=request_user_id(request), topup_id=topup_id)
        return Response(TopUpOutput(topup).data)


class TopUpWebhookView(APIView):
    """Selcom's signed status callback (`X-Selcom-Signature`: HMAC-SHA256 of the raw body)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(operation_id="topup_webhook", request=dict, responses={200: dict})
    def post(self, request: Request) -> Response:
        topup = topup_callback_receive(body=request.body, signature=request.headers.get("X-Selcom-Signature"))
        return Response({"received": True, "transid": topup.transid, "status": topup.status})
