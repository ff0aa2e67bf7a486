"""Thin Celery tasks of the sportsbook: each takes ids, calls one service."""

from __future__ import annotations

import structlog
from celery import shared_task

from betting.feed.sync import events_sync
from betting.services import live_bets_due, slip_live_confirm
from core.errors import DependencyDown

log = structlog.get_logger(__name__)


@shared_task(name="betting.tasks.sync_events", ignore_result=True)
def sync_events(league: str | None = None) -> dict[str, int]:
    """Fixtures, odds and results from the feed. A feed that is down fails this run; the next
    beat tick tries again (no retry storm against a provider that is struggling)."""
    try:
        return events_sync(league=league).as_dict()
    except DependencyDown as exc:
        log.warning("feed.sync_failed", error=exc.message, code=exc.code, details=exc.details)
        return {}


@shared_task(name="betting.tasks.live_bet_confirm", ignore_result=True, acks_late=True)
def live_bet_confirm(slip_id: int) -> str:
    return str(slip_live_confirm(slip_id=slip_id).status)


@shared_task(name="betting.tasks.live_bets_sweep", ignore_result=True)
def live_bets_sweep() -> int:
    """Decide live bets whose delayed task was lost (a worker restart); idempotent."""
    due = live_bets_due()
    for slip_id in due:
        slip_live_confirm(slip_id=slip_id)
    return len(due)
