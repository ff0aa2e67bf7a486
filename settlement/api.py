"""Settlement's endpoints: the signed result webhook, the cron trigger, the health check, and the
operators' void window."""

from __future__ import annotations

import hmac
import json
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from betting.api.operators import PlacingInput
from betting.models import Event
from core.auth import request_user_id
from core.errors import ApplicationError, DependencyDown, ValidationFailed
from settlement.health import settlement_health
from settlement.models import MarketVoidWindow, SettlementRun
from settlement.services.runs import settlement_run
from settlement.services.voids import market_bets_void
from settlement.services.webhook import SIGNATURE_HEADER, result_push_accept, signature_verify


class Unauthorized(ApplicationError):
    status_code = 401
    code = "unauthorized"


class RunOut(serializers.ModelSerializer[SettlementRun]):
    duration_ms = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = SettlementRun
        ref_name = "SettlementRun"
        fields = [
            "id",
            "trigger",
            "status",
            "dry_run",
            "target_event",
            "attempts",
            "next_attempt_at",
            "events",
            "slips_settled",
            "slips_resettled",
            "selections_graded",
            "money",
            "errors",
            "correlation_id",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
        ]


class SettlementWebhookView(APIView):
    """A signed result push (see `settlement.services.webhook` for the signature)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    class Input(serializers.Serializer[Any]):
        id = serializers.CharField(required=False, max_length=128, help_text="The sender's id of the push.")
        event = serializers.JSONField(help_text='Our event id, or {"provider": ..., "external_id": ...}.')
        status = serializers.ChoiceField(choices=Event.Status.choices, required=False)
        home_score = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100_000)
        away_score = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=100_000)
        placings = PlacingInput(many=True, required=False, max_length=1000)  # type: ignore[call-arg]

        class Meta:
            ref_name = "SettlementWebhookPush"

        def validate_event(self, value: Any) -> int | dict[str, str]:
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
            if (
                isinstance(value, dict)
                and set(value) == {"provider", "external_id"}
                and all(isinstance(v, str) and 0 < len(v) <= 128 for v in value.values())
            ):
                return {"provider": value["provider"], "external_id": value["external_id"]}
            raise serializers.ValidationError('An event id, or {"provider": ..., "external_id": ...}.')

    @extend_schema(
        operation_id="settlement_webhook",
        request=Input,
        responses={202: dict, 400: dict, 401: dict, 404: dict},
        parameters=[
            OpenApiParameter(
                SIGNATURE_HEADER,
                location=OpenApiParameter.HEADER,
                required=True,
                description='t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>',
            )
        ],
    )
    def post(self, request: Request) -> Response:
        raw = request.body
        timestamp = signature_verify(header=request.headers.get(SIGNATURE_HEADER), body=raw, now=timezone.now())
        try:
            payload = json.loads(raw)
        except ValueError:
            raise ValidationFailed("The body is not JSON.", code="malformed_body") from None
        data = self.Input(data=payload)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        outcome = result_push_accept(
            timestamp=timestamp,
            raw_body=raw,
            payload=payload,
            event_reference=values["event"],
            status=values.get("status"),
            home_score=values.get("home_score"),
            away_score=values.get("away_score"),
            placings={p["selection"]: p["place"] for p in values.get("placings", [])} or None,
        )
        body = {
            "status": "duplicate" if outcome.duplicate else "queued",
            "event": outcome.push.event_id,
            "result_changed": outcome.push.result_changed,
            "run": outcome.run.pk if outcome.run else None,
        }
        return Response(body, status=200 if outcome.duplicate else 202)


class CronSettleView(APIView):
    """`Authorization: Bearer <CRON_SECRET>`; off while the secret is unset. Runs sync-and-settle
    here and answers with the run (`?event=<id>` for one event, `?sync=0` to skip the feed)."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    class Query(serializers.Serializer[Any]):
        event = serializers.IntegerField(required=False, min_value=1)
        sync = serializers.BooleanField(required=False, default=True)
        dry_run = serializers.BooleanField(required=False, default=False)

        class Meta:
            ref_name = "CronSettleQuery"

    @staticmethod
    def _authorize(request: Request) -> None:
        secret = settings.CRON_SECRET
        if not secret:
            raise DependencyDown("The cron endpoint is off: CRON_SECRET is not set.", code="cron_off")
        given = request.headers.get("Authorization", "")
        expected = f"Bearer {secret}"
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized("Authorization: Bearer <CRON_SECRET> is missing or wrong.")

    def _settle(self, request: Request) -> Response:
        self._authorize(request)
        query = self.Query(data=request.query_params)
        query.is_valid(raise_exception=True)
        values = query.validated_data
        run = settlement_run(
            trigger=SettlementRun.Trigger.CRON,
            event_id=values.get("event"),
            sync_feed=values["sync"],
            dry_run=values["dry_run"],
            requested_by="cron",
        )
        return Response(RunOut(run).data)

    @extend_schema(operation_id="cron_settle_bets_get", parameters=[Query], responses={200: RunOut})
    def get(self, request: Request) -> Response:
        return self._settle(request)

    @extend_schema(operation_id="cron_settle_bets_post", parameters=[Query], request=None, responses={200: RunOut})
    def post(self, request: Request) -> Response:
        return self._settle(request)


class SettlementHealthView(APIView):
    """Queue, workers, recurring job, recent failures and backlog, with a 0-100 score."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(operation_id="settlement_health", responses={200: dict, 503: dict})
    def get(self, request: Request) -> Response:
        health = settlement_health()
        return Response(health.body, status=200 if health.ok else 503)


class AdminVoidWindowView(APIView):
    """Void the bets on a market accepted inside a time window (staff)."""

    permission_classes = [IsAdminUser]

    class Input(serializers.Serializer[Any]):
        start = serializers.DateTimeField()
        end = serializers.DateTimeField()
        reason = serializers.CharField(max_length=255)

        class Meta:
            ref_name = "AdminVoidWindow"

    class Output(serializers.ModelSerializer[MarketVoidWindow]):
        class Meta:
            model = MarketVoidWindow
            ref_name = "VoidWindow"
            fields = ["id", "market", "start", "end", "reason", "created_at"]

    @extend_schema(operation_id="admin_market_void_bets", request=Input, responses={201: Output})
    def post(self, request: Request, market_id: int) -> Response:
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        window = market_bets_void(market_id=market_id, operator_id=request_user_id(request), **data.validated_data)
        return Response(self.Output(window).data, status=201)
