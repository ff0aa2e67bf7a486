"""Payout health: metrics over a window, the healthy / warning / critical verdict, and the checks
that raise alerts (after each run, and periodically)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Avg, Count, DateTimeField, DurationField, ExpressionWrapper, F, Q, Sum, Value
from django.utils import timezone
from redis.exceptions import RedisError

from ledger.currencies import format_amount
from payments.models import Payout, PayoutAlert, PayoutRun
from payments.payouts import alerts
from payments.payouts.breaker import BreakerState, breaker
from payments.payouts.config import major_to_minor

S = Payout.Status


@dataclass
class PayoutMetrics:
    window_hours: int
    total_processed: int
    successful: int
    failed: int
    success_rate: float
    failure_rate: float
    retry_rate: float
    average_processing_s: float
    pending_count: int
    pending_amount: dict[str, int] = field(default_factory=dict)
    awaiting_approval: int = 0
    in_review: int = 0
    runs: int = 0
    breaker: str = BreakerState.CLOSED

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        return {
            "windowHours": data["window_hours"],
            "totalProcessed": data["total_processed"],
            "successful": data["successful"],
            "failed": data["failed"],
            "successRate": data["success_rate"],
            "failureRate": data["failure_rate"],
            "retryRate": data["retry_rate"],
            "averageProcessingTimeS": data["average_processing_s"],
            "pendingCount": data["pending_count"],
            "pendingAmount": data["pending_amount"],
            "awaitingApproval": data["awaiting_approval"],
            "inReview": data["in_review"],
            "runs": data["runs"],
            "circuitBreaker": data["breaker"],
        }


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def payout_metrics(*, now: datetime | None = None) -> PayoutMetrics:
    now = now or timezone.now()
    hours = int(settings.PAYOUT_MONITOR_WINDOW_H)
    since = now - timedelta(hours=hours)
    finished = Payout.objects.filter(
        Q(status=S.PAID, paid_at__gte=since) | Q(status=S.FAILED, failed_at__gte=since, failed_after_paid=False)
    ).aggregate(
        paid=Count("id", filter=Q(status=S.PAID)),
        failed=Count("id", filter=Q(status=S.FAILED)),
        retried=Count("id", filter=Q(attempts__gt=1)),
    )
    delay = ExpressionWrapper(F("paid_at") - F("queued_at"), output_field=DurationField())
    average = Payout.objects.filter(status=S.PAID, paid_at__gte=since, queued_at__isnull=False).aggregate(
        avg=Avg(delay)
    )["avg"]
    pending = Payout.objects.filter(status__in=[S.QUEUED, S.PROCESSING])
    amounts = {row["currency"]: int(row["s"]) for row in pending.values("currency").annotate(s=Sum("amount"))}
    paid, failed = finished["paid"], finished["failed"]
    try:
        breaker_state = str(breaker.status().state)
    except RedisError:
        breaker_state = "unknown"
    return PayoutMetrics(
        window_hours=hours,
        total_processed=paid + failed,
        successful=paid,
        failed=failed,
        success_rate=_pct(paid, paid + failed),
        failure_rate=_pct(failed, paid + failed),
        retry_rate=_pct(finished["retried"], paid + failed),
        average_processing_s=round(average.total_seconds(), 1) if average else 0.0,
        pending_count=pending.count(),
        pending_amount=amounts,
        awaiting_approval=Payout.objects.filter(status=S.AWAITING_APPROVAL).count(),
        in_review=Payout.objects.filter(status=S.REVIEW).count(),
        runs=PayoutRun.objects.filter(started_at__gte=since).count(),
        breaker=breaker_state,
    )


def _pending_delay_hours(now: datetime) -> float:
    """Average age of what waits to be paid (queued or in flight), in hours."""
    delay = ExpressionWrapper(Value(now, output_field=DateTimeField()) - F("queued_at"), output_field=DurationField())
    average = Payout.objects.filter(status__in=[S.QUEUED, S.PROCESSING], queued_at__isnull=False).aggregate(
        avg=Avg(delay)
    )["avg"]
    return average.total_seconds() / 3600 if average else 0.0


def payout_health(*, now: datetime | None = None) -> tuple[str, PayoutMetrics]:
    """healthy / warning / critical, from unresolved alerts, the breaker and the metrics."""
    metrics = payout_metrics(now=now)
    config = alerts.alert_config()
    severities = set(PayoutAlert.objects.exclude(status=PayoutAlert.Status.RESOLVED).values_list("severity", flat=True))
    threshold = float(config.failure_rate_threshold)
    if (
        PayoutAlert.Severity.CRITICAL in severities
        or metrics.breaker == BreakerState.OPEN
        or (metrics.total_processed and metrics.failure_rate > 2 * threshold)
    ):
        return "critical", metrics
    if (
        PayoutAlert.Severity.WARNING in severities
        or metrics.breaker in (BreakerState.HALF_OPEN, "unknown")
        or (metrics.total_processed and metrics.failure_rate > threshold)
        or metrics.pending_count > config.pending_payout_threshold
        or metrics.in_review
    ):
        return "warning", metrics
    return "healthy", metrics


def alerts_evaluate(*, now: datetime | None = None) -> list[PayoutAlert]:
    """The periodic checks: failure rate over the window, pending payouts, processing delay."""
    now = now or timezone.now()
    config = alerts.alert_config()
    metrics = payout_metrics(now=now)
    raised: list[PayoutAlert | None] = []
    threshold = float(config.failure_rate_threshold)
    if metrics.total_processed and metrics.failure_rate > threshold:
        raised.append(
            alerts.alert_raise(
                type="failure_rate",
                severity="critical" if metrics.failure_rate > 2 * threshold else "warning",
                message=f"{metrics.failure_rate}% of payouts failed in the last {metrics.window_hours} h "
                f"(threshold {threshold}%).",
                details={"failureRate": metrics.failure_rate, "failed": metrics.failed, "of": metrics.total_processed},
            )
        )
    if metrics.pending_count > config.pending_payout_threshold:
        raised.append(
            alerts.alert_raise(
                type="pending_threshold",
                severity="critical" if metrics.pending_count > 2 * config.pending_payout_threshold else "warning",
                message=f"{metrics.pending_count} payouts are waiting (threshold {config.pending_payout_threshold}).",
                details={"pending": metrics.pending_count, "amounts": metrics.pending_amount},
            )
        )
    delay_h = max(metrics.average_processing_s / 3600, _pending_delay_hours(now))
    if delay_h > config.processing_delay_threshold_hours:
        raised.append(
            alerts.alert_raise(
                type="processing_delay",
                severity="warning",
                message=f"Payouts take {delay_h:.1f} h on average (threshold "
                f"{config.processing_delay_threshold_hours} h).",
                details={"averageDelayHours": round(delay_h, 2)},
            )
        )
    return [a for a in raised if a is not None]


def alerts_evaluate_run(run: PayoutRun) -> list[PayoutAlert]:
    """After a run: its failure rate and its total per currency."""
    config = alerts.alert_config()
    raised: list[PayoutAlert | None] = []
    threshold = Decimal(config.failure_rate_threshold)
    if run.total_payouts:
        rate = Decimal(100 * run.failed_payouts) / run.total_payouts
        if rate > threshold:
            raised.append(
                alerts.alert_raise(
                    type="failure_rate",
                    severity="critical" if rate > 2 * threshold else "warning",
                    message=f"Run {run.run_id}: {rate:.1f}% of payouts failed (threshold {threshold}%).",
                    details={"run": run.run_id, "failed": run.failed_payouts, "of": run.total_payouts},
                    run_id=run.pk,
                )
            )
    for currency, amount in sorted(run.total_amount.items()):
        limit = major_to_minor(config.total_amount_threshold, currency)
        if amount > limit:
            raised.append(
                alerts.alert_raise(
                    type="amount_threshold",
                    severity="info",
                    message=f"Run {run.run_id} paid {format_amount(amount, currency)}, above {format_amount(limit, currency)}.",
                    details={"run": run.run_id, "currency": currency, "amount": amount, "threshold": limit},
                    dedupe_key=f"amount_threshold:{run.run_id}:{currency}",
                    run_id=run.pk,
                )
            )
    return [a for a in raised if a is not None]
