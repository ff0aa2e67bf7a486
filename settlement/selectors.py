"""Reads of settlement: which events are due, the backlog, recent runs, and the big wins the
on-chain audit trail anchors (`BIG_WIN_CANDIDATE_SOURCE`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from betting.models import BetSlip
from ledger.chain.candidates import recorded_subject_ids
from settlement.models import SettlementRun

# Events whose settlement is due, in one statement:
# - a final state (finished, cancelled) not looked at yet: a new result or a correction;
# - postponed or abandoned past the void deadline and not yet voided;
# - a pass that did not complete (new grades, an operator's void window, a killed worker);
# - a market voided by an operator whose selections are not graded yet;
# - the safety net: pending slips whose every selection is graded (a slip accepted late, say).
_EVENTS_DUE = """
SELECT e.id FROM betting_event e
LEFT JOIN settlement_eventsettlement es ON es.event_id = e.id
WHERE (e.status IN ('finished', 'cancelled')
       AND (es.event_id IS NULL OR es.handled_status <> e.status OR es.handled_version <> e.result_version))
   OR (e.status IN ('postponed', 'abandoned')
       AND COALESCE(e.original_start, e.scheduled_start) < %(void_before)s
       AND (es.event_id IS NULL OR es.handled_status <> e.status))
UNION
SELECT es.event_id FROM settlement_eventsettlement es WHERE es.generation > es.settled_generation
UNION
SELECT m.event_id FROM betting_market m JOIN betting_selection sel ON sel.market_id = m.id
WHERE m.status = 'void' AND sel.result IS NULL
UNION
SELECT l.event_id FROM betting_betslip s JOIN betting_betleg l ON l.slip_id = s.id
WHERE s.status = 'pending' AND NOT EXISTS (
    SELECT 1 FROM betting_betleg l2 JOIN betting_selection x ON x.id = l2.selection_id
    WHERE l2.slip_id = s.id AND x.result IS NULL
)
ORDER BY 1
"""


def events_due(*, now: datetime | None = None) -> list[int]:
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_EVENTS_DUE, {"void_before": now - timedelta(hours=settings.VOID_AFTER_HOURS)})
        return [row[0] for row in cursor.fetchall()]


@dataclass(frozen=True)
class Backlog:
    """Pending slips whose every leg is on an event that is over: they should be settled."""

    slips: int
    oldest_ready_at: datetime | None  # when the last result such a slip needed arrived

    def oldest_age_s(self, now: datetime) -> float | None:
        return None if self.oldest_ready_at is None else max((now - self.oldest_ready_at).total_seconds(), 0.0)


def settlement_backlog() -> Backlog:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), min(ready_at) FROM (
                SELECT s.id,
                       max(COALESCE(e.result_received_at, e.finished_at, e.updated_at)) AS ready_at,
                       bool_and(e.status IN ('finished', 'cancelled')) AS over
                FROM betting_betslip s
                JOIN betting_betleg l ON l.slip_id = s.id
                JOIN betting_event e ON e.id = l.event_id
                WHERE s.status = 'pending'
                GROUP BY s.id
            ) slips WHERE over
            """
        )
        count, oldest = cursor.fetchone()
    return Backlog(slips=int(count), oldest_ready_at=oldest)


def recent_runs(*, limit: int | None = None) -> list[SettlementRun]:
    """The last finished runs (dry runs left out), newest first."""
    return list(
        SettlementRun.objects.filter(
            status__in=[SettlementRun.Status.SUCCEEDED, SettlementRun.Status.FAILED], dry_run=False
        ).order_by("-finished_at", "-id")[: limit or settings.SETTLEMENT_HEALTH_RECENT_RUNS]
    )


def run_counts(*, since: datetime) -> dict[str, int]:
    """Runs by status: the open ones whenever made, the finished ones since `since`."""
    counts = dict.fromkeys(SettlementRun.Status.values, 0)
    rows = SettlementRun.objects.filter(status__in=list(SettlementRun.OPEN_STATUSES)).values_list("status", flat=True)
    for status in rows:
        counts[status] += 1
    finished = SettlementRun.objects.filter(
        status__in=[SettlementRun.Status.SUCCEEDED, SettlementRun.Status.FAILED], finished_at__gte=since
    ).values_list("status", flat=True)
    for status in finished:
        counts[status] += 1
    return counts


def settled_big_wins(*, threshold: int, currency: str, limit: int) -> Iterator[tuple[int, int, str]]:
    """The big-win candidate source of the on-chain audit trail (BIG_WIN_CANDIDATE_SOURCE): settled
    winning slips in `currency` that paid at least `threshold`, with no chain record yet, oldest
    settled first, as (slip id, amount paid, currency)."""
    rows = (
        BetSlip.objects.filter(status=BetSlip.Status.WON, currency=currency, payout__gte=threshold)
        .exclude(pk__in=recorded_subject_ids())
        .order_by("settled_at", "pk")
        .values_list("pk", "payout", "currency")[:limit]
    )
    for slip_id, payout, slip_currency in rows:
        yield int(slip_id), int(payout or 0), str(slip_currency)
