"""The sweep (a periodic task): recover stuck top-ups, flag late ones, list due queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.metrics import TOPUP_FLAGGED
from payments.models import TopUp, TopUpEvent
from payments.topup.services import topup_event_record, topup_finish

log = structlog.get_logger(__name__)
Status = TopUp.Status


@dataclass
class SweepReport:
    refunded_unsent: list[int] = field(default_factory=list)
    recovered_sending: list[int] = field(default_factory=list)
    flagged: list[int] = field(default_factory=list)
    due: list[int] = field(default_factory=list)


def topup_sweep(*, limit: int = 200) -> SweepReport:
    """Recover stuck top-ups, flag those past the SLA, and list those whose query is due.

    - HELD past the grace period: the request never left (the process died first), so the
      hold is refunded; the send's compare-and-set then finds nothing to send.
    - SENDING past the timeout and grace: the answer was lost; the payment may exist, so it
      becomes PROCESSING and is queried, never resent.
    """
    now = timezone.now()
    report = SweepReport()
    grace = timedelta(seconds=settings.TOPUP_SEND_GRACE_S)
    for topup_id in TopUp.objects.filter(status=Status.HELD, created_at__lte=now - grace).values_list("pk", flat=True)[
        :limit
    ]:
        topup = topup_finish(
            topup_id=topup_id,
            succeeded=False,
            result=None,
            event_kind=TopUpEvent.Kind.SWEEP,
            failure_code="not_sent",
            message="held but never sent",
            only_from=frozenset({Status.HELD}),
        )
        if topup.failure_code == "not_sent":
            report.refunded_unsent.append(topup_id)

    stuck_before = now - grace - timedelta(seconds=settings.SELCOM_TIMEOUT_S)
    interval = timedelta(seconds=settings.SELCOM_QUERY_INTERVAL_S)
    for topup_id, submitted_at in TopUp.objects.filter(
        status=Status.SENDING, submitted_at__lte=stuck_before
    ).values_list("pk", "submitted_at")[:limit]:
        with transaction.atomic(durable=True):
            moved = TopUp.objects.filter(pk=topup_id, status=Status.SENDING).update(
                status=Status.PROCESSING, next_attempt_at=(submitted_at or now) + interval, updated_at=now
            )
            if moved:
                topup_event_record(
                    topup_id=topup_id, kind=TopUpEvent.Kind.SWEEP, message="no answer to the send: query it"
                )
                report.recovered_sending.append(topup_id)

    late = TopUp.objects.filter(
        status__in=TopUp.OPEN, flagged_at__isnull=True, created_at__lte=now - timedelta(seconds=settings.SELCOM_SLA_S)
    )
    for topup_id, transid in late.values_list("pk", "transid")[:limit]:
        flagged = TopUp.objects.filter(pk=topup_id, status__in=TopUp.OPEN, flagged_at__isnull=True).update(
            flagged_at=now, flag_reason=f"unresolved after {settings.SELCOM_SLA_S} s", updated_at=now
        )
        if flagged:
            TOPUP_FLAGGED.labels("sla").inc()
            log.warning("topup.sla_breached", topup=topup_id, transid=transid)
            report.flagged.append(topup_id)

    report.due = list(
        TopUp.objects.filter(status=Status.PROCESSING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    return report
