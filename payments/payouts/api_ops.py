"""Operator, cron and Stripe endpoints of the payouts.

- `GET/POST /api/admin/payout-monitoring` (staff): health, runs, alerts, and actions.
- `POST /api/cron/automated-payouts`: `Authorization: Bearer <CRON_SECRET>`, compared in constant
  time. While CRON_SECRET is unset the endpoint is off and answers 503 `cron_disabled`: the route
  is public in the OpenAPI schema anyway, so a 404 would hide nothing, and a 503 tells whoever
  wires the cron job what is missing (a 404 reads like a wrong URL).
- `POST /api/payments/stripe/webhook`: Stripe's signed events.
"""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.auth import request_user_id
from core.errors import ApplicationError, DependencyDown, ValidationFailed
from core.idempotency import idempotent
from core.logging import current_correlation_id
from ledger.currencies import money
from payments.models import Payout, PayoutAlert, PayoutAlertConfig, PayoutRun, PayoutSchedule
from payments.payouts import alerts, monitoring, schedules, selectors
from payments.payouts.breaker import breaker
from payments.payouts.runs import RunReport, payouts_cron_run, run_in_progress
from payments.payouts.webhooks import stripe_webhook_receive

# --- JSON shapes ------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value else None


def _amounts(totals: dict[str, int]) -> list[dict[str, object]]:
    return [money(int(amount), currency) for currency, amount in sorted(totals.items())]


def report_json(report: RunReport) -> dict[str, Any]:
    data: dict[str, Any] = {
        "runId": report.run_id,
        "dryRun": report.dry_run,
        "status": report.status,
        "totalPayouts": report.total_payouts,
        "successfulPayouts": report.successful_payouts,
        "failedPayouts": report.failed_payouts,
        "retriedPayouts": report.retried_payouts,
        "totalAmount": _amounts(report.total_amount),
        "duration": report.duration_ms,
        "errors": report.errors,
        "nextScheduledTime": _iso(report.next_scheduled_at),
        "stopReason": report.stop_reason,
    }
    if report.dry_run:
        data["wouldPay"] = report.would_pay
    return data


def run_json(run: PayoutRun) -> dict[str, Any]:
    return {
        **report_json(RunReport.from_run(run)),
        "trigger": run.trigger,
        "startedAt": _iso(run.started_at),
        "finishedAt": _iso(run.finished_at),
        "correlationId": run.correlation_id,
    }


def alert_json(alert: PayoutAlert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "type": alert.type,
        "severity": alert.severity,
        "status": alert.status,
        "message": alert.message,
        "details": alert.details,
        "occurrences": alert.occurrences,
        "createdAt": _iso(alert.created_at),
        "lastSeenAt": _iso(alert.last_seen_at),
        "acknowledgedAt": _iso(alert.acknowledged_at),
        "resolvedAt": _iso(alert.resolved_at),
    }


def schedule_json(schedule: PayoutSchedule) -> dict[str, Any]:
    return {
        "id": schedule.pk,
        "name": schedule.name,
        "enabled": schedule.enabled,
        "frequency": schedule.frequency,
        "dayOfWeek": schedule.day_of_week,
        "dayOfMonth": schedule.day_of_month,
        "hour": schedule.hour,
        "minute": schedule.minute,
        "timezone": schedule.timezone,
        "minimumThreshold": str(schedule.min_threshold),
        "batchSize": schedule.batch_size,
        "maxRetries": schedule.max_retries,
        "notificationEmails": schedule.notification_emails,
        "lastRunSlot": _iso(schedule.last_slot_at),
        "nextScheduledTime": _iso(schedules.next_occurrence(schedule, timezone.now())) if schedule.enabled else None,
    }


def alert_config_json(config: PayoutAlertConfig) -> dict[str, Any]:
    return {
        "enabled": config.enabled,
        "failureRateThreshold": str(config.failure_rate_threshold),
        "pendingPayoutThreshold": config.pending_payout_threshold,
        "processingDelayThreshold": config.processing_delay_threshold_hours,
        "totalAmountThreshold": str(config.total_amount_threshold),
        "notificationEmails": config.notification_emails,
        "webhookUrls": config.webhook_urls,
    }


def _envelope(data: dict[str, Any]) -> dict[str, Any]:
    return {"success": True, "data": data, "correlationId": current_correlation_id() or ""}


# --- Monitoring -------------------------------------------------------------------------------


class ScheduleInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    enabled = serializers.BooleanField(required=False)
    frequency = serializers.ChoiceField(choices=PayoutSchedule.Frequency.choices, required=False)
    dayOfWeek = serializers.IntegerField(min_value=0, max_value=6, required=False, allow_null=True)  # noqa: N815
    dayOfMonth = serializers.IntegerField(min_value=1, max_value=31, required=False, allow_null=True)  # noqa: N815
    hour = serializers.IntegerField(min_value=0, max_value=23, required=False)
    minute = serializers.IntegerField(min_value=0, max_value=59, required=False)
    timezone = serializers.CharField(max_length=64, required=False)
    minimumThreshold = serializers.DecimalField(  # noqa: N815
        max_digits=20, decimal_places=6, min_value=0, required=False
    )
    batchSize = serializers.IntegerField(min_value=1, max_value=1000, required=False)  # noqa: N815
    maxRetries = serializers.IntegerField(min_value=0, max_value=10, required=False)  # noqa: N815
    notificationEmails = serializers.ListField(child=serializers.EmailField(), required=False)  # noqa: N815

    FIELD_MAP = {
        "dayOfWeek": "day_of_week",
        "dayOfMonth": "day_of_month",
        "minimumThreshold": "min_threshold",
        "batchSize": "batch_size",
        "maxRetries": "max_retries",
        "notificationEmails": "notification_emails",
    }


class AlertConfigInput(serializers.Serializer[Any]):
    enabled = serializers.BooleanField(required=False)
    failureRateThreshold = serializers.DecimalField(  # noqa: N815
        max_digits=5, decimal_places=2, min_value=0, max_value=100, required=False
    )
    pendingPayoutThreshold = serializers.IntegerField(min_value=0, required=False)  # noqa: N815
    processingDelayThreshold = serializers.IntegerField(min_value=0, required=False)  # noqa: N815
    totalAmountThreshold = serializers.DecimalField(  # noqa: N815
        max_digits=20, decimal_places=2, min_value=0, required=False
    )
    notificationEmails = serializers.ListField(child=serializers.EmailField(), required=False)  # noqa: N815
    webhookUrls = serializers.ListField(child=serializers.URLField(), required=False)  # noqa: N815

    FIELD_MAP = {
        "failureRateThreshold": "failure_rate_threshold",
        "pendingPayoutThreshold": "pending_payout_threshold",
        "processingDelayThreshold": "processing_delay_threshold_hours",
        "totalAmountThreshold": "total_amount_threshold",
        "notificationEmails": "notification_emails",
        "webhookUrls": "webhook_urls",
    }


def _mapped(serializer: Any, raw: Any) -> dict[str, Any]:
    data = serializer(data=raw if isinstance(raw, dict) else {})
    data.is_valid(raise_exception=True)
    return {serializer.FIELD_MAP.get(k, k): v for k, v in data.validated_data.items()}


class PayoutMonitoringView(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema_serializer(component_name="PayoutMonitoringQuery")
    class Query(serializers.Serializer[Any]):
        includeHistory = serializers.BooleanField(default=False)  # noqa: N815
        includeAlerts = serializers.BooleanField(default=True)  # noqa: N815
        includeMetrics = serializers.BooleanField(default=True)  # noqa: N815
        historyLimit = serializers.IntegerField(min_value=1, max_value=200, default=20)  # noqa: N815

    @extend_schema_serializer(component_name="PayoutMonitoringAction")
    class Action(serializers.Serializer[Any]):
        action = serializers.ChoiceField(
            choices=[
                "triggerPayouts",
                "updateSchedule",
                "updateAlertConfig",
                "acknowledgeAlert",
                "resolveAlert",
                "getMetrics",
            ]
        )
        alertId = serializers.IntegerField(min_value=1, required=False)  # noqa: N815
        scheduleId = serializers.IntegerField(min_value=1, required=False, allow_null=True)  # noqa: N815
        config = serializers.DictField(required=False)
        dryRun = serializers.BooleanField(default=False)  # noqa: N815
        forceRun = serializers.BooleanField(default=True)  # noqa: N815
        batchSize = serializers.IntegerField(min_value=1, max_value=1000, required=False)  # noqa: N815
        maxRetries = serializers.IntegerField(min_value=0, max_value=10, required=False)  # noqa: N815

    @extend_schema(operation_id="payout_monitoring", parameters=[Query], responses={200: dict})
    def get(self, request: Request) -> Response:
        query = self.Query(data=request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        status, metrics = monitoring.payout_health()
        running = run_in_progress()
        counts = {s: n for s, n in _status_counts().items()}
        health: dict[str, Any] = {"status": status, "circuitBreaker": _breaker_json()}
        if q["includeMetrics"]:
            health["metrics"] = metrics.as_json()
        if q["includeAlerts"]:
            health["activeAlerts"] = [alert_json(a) for a in selectors.alerts_active()[:100]]
        data: dict[str, Any] = {
            "timestamp": timezone.now().isoformat(),
            "scheduler": {
                "isRunning": running,
                "nextScheduledTime": _iso(schedules.next_scheduled_time()),
                "schedules": [schedule_json(s) for s in PayoutSchedule.objects.order_by("pk")],
            },
            "processing": {
                "isProcessing": running,
                "totalInQueue": counts.get(Payout.Status.QUEUED, 0) + counts.get(Payout.Status.PROCESSING, 0),
                "awaitingApproval": counts.get(Payout.Status.AWAITING_APPROVAL, 0),
                "inReview": counts.get(Payout.Status.REVIEW, 0),
                "totalCompleted": counts.get(Payout.Status.PAID, 0),
                "totalFailed": counts.get(Payout.Status.FAILED, 0),
            },
            "health": health,
            "alertConfig": alert_config_json(alerts.alert_config()),
        }
        if q["includeHistory"]:
            data["history"] = [run_json(r) for r in selectors.runs_recent(limit=q["historyLimit"])]
        return Response({"success": True, "data": data})

    @extend_schema(operation_id="payout_monitoring_action", request=Action, responses={200: dict})
    def post(self, request: Request) -> Response:
        # triggerPayouts hashes the raw body for its Idempotency-Key: read it before DRF parses it.
        _ = request.body
        action = self.Action(data=request.data)
        action.is_valid(raise_exception=True)
        a = action.validated_data
        user_id = request_user_id(request)
        name = a["action"]
        if name == "triggerPayouts":
            return self._trigger(request)
        if name == "updateSchedule":
            fields = _mapped(ScheduleInput, a.get("config"))
            schedule = schedules.payout_schedule_update(schedule_id=a.get("scheduleId"), fields=fields)
            return Response(_envelope({"schedule": schedule_json(schedule)}))
        if name == "updateAlertConfig":
            config = alerts.alert_config_update(fields=_mapped(AlertConfigInput, a.get("config")))
            return Response(_envelope({"alertConfig": alert_config_json(config)}))
        if name in ("acknowledgeAlert", "resolveAlert"):
            if not a.get("alertId"):
                raise ValidationFailed("alertId is required.", details={"fields": {"alertId": ["required"]}})
            move = alerts.alert_acknowledge if name == "acknowledgeAlert" else alerts.alert_resolve
            alert = move(alert_id=a["alertId"], user_id=user_id)
            return Response(_envelope({"alert": alert_json(alert)}))
        status, metrics = monitoring.payout_health()
        return Response(_envelope({"status": status, "metrics": metrics.as_json()}))

    @idempotent
    def _trigger(self, request: Request) -> Response:
        a = self.Action(data=request.data)
        a.is_valid(raise_exception=True)
        v = a.validated_data
        report = payouts_cron_run(
            force=v["forceRun"],
            dry_run=v["dryRun"],
            batch_size=v.get("batchSize"),
            max_retries=v.get("maxRetries"),
            trigger=PayoutRun.Trigger.MANUAL,
            triggered_by_id=request_user_id(request),
        )
        return Response(_run_response(report))


def _status_counts() -> dict[str, int]:
    from django.db.models import Count

    return {row["status"]: row["n"] for row in Payout.objects.values("status").annotate(n=Count("id"))}


def _breaker_json() -> dict[str, Any]:
    try:
        status = breaker.status()
    except Exception as exc:  # noqa: BLE001 - the page shows the breaker as unknown rather than failing
        return {"state": "unknown", "error": str(exc)[:200]}
    return {"state": str(status.state), "consecutiveFailures": status.consecutive_failures}


def _run_response(report: RunReport | None) -> dict[str, Any]:
    cid = current_correlation_id() or ""
    if report is None:
        return {
            "success": True,
            "status": "skipped",
            "message": "No scheduled payout run is due.",
            "data": {"nextScheduledTime": _iso(schedules.next_scheduled_time())},
            "correlationId": cid,
        }
    if report.dry_run:
        status, message = "dry_run", "Dry run: nothing was changed."
    elif report.status == PayoutRun.Status.FAILED:
        status, message = "error", "Automated payout processing failed."
    elif report.status == PayoutRun.Status.STOPPED:
        status, message = "stopped", f"Automated payout processing stopped: {report.stop_reason}."
    elif report.failed_payouts or report.retried_payouts:
        status, message = "partial_success", "Automated payout processing completed with failures."
    else:
        status, message = "success", "Automated payout processing completed."
    return {
        "success": report.status != PayoutRun.Status.FAILED,
        "status": status,
        "message": message,
        "data": report_json(report),
        "correlationId": report.correlation_id or cid,
    }


# --- Cron -------------------------------------------------------------------------------------


class CronAutomatedPayoutsView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="CronPayoutsInput")
    class Input(serializers.Serializer[Any]):
        forceRun = serializers.BooleanField(default=False)  # noqa: N815
        dryRun = serializers.BooleanField(default=False)  # noqa: N815
        batchSize = serializers.IntegerField(min_value=1, max_value=1000, required=False)  # noqa: N815
        maxRetries = serializers.IntegerField(min_value=0, max_value=10, required=False)  # noqa: N815

    @extend_schema(operation_id="cron_automated_payouts", request=Input, responses={200: dict})
    def post(self, request: Request) -> Response:
        secret = str(settings.CRON_SECRET or "")
        if not secret:
            raise DependencyDown("The cron endpoint is off: CRON_SECRET is not set.", code="cron_disabled")
        header = request.headers.get("Authorization", "")
        token = header[7:] if header[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(token.encode(), secret.encode()):
            raise ApplicationError("A valid cron bearer token is required.", code="not_authenticated", status_code=401)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        report = payouts_cron_run(
            force=v["forceRun"], dry_run=v["dryRun"], batch_size=v.get("batchSize"), max_retries=v.get("maxRetries")
        )
        return Response(_run_response(report))


# --- Stripe -----------------------------------------------------------------------------------


class StripeWebhookView(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(operation_id="stripe_webhook", request=None, responses={200: dict})
    def post(self, request: Request) -> Response:
        outcome, duplicate = stripe_webhook_receive(
            payload=request.body, signature=request.headers.get("Stripe-Signature")
        )
        return Response({"received": True, "duplicate": duplicate, "outcome": outcome})
