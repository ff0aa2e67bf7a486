"""Settlement runs: every trigger (beat, webhook, cron, command, admin, a recorded result, an
operator's void window) makes a `SettlementRun` and executes it, here or in a worker.

A run optionally pulls results from the feed first (network, outside any transaction), then
settles its target event or every event due (`settlement.selectors.events_due`). A run that
fails (an event raised, the feed was down) is tried again after 2, 4 and 8 s
(`SETTLEMENT_RETRY_DELAYS_S`) and then stays FAILED for an operator to see. Executing a run is a
compare-and-set QUEUED/RETRYING -> RUNNING, so a run executes once per attempt whoever holds it.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from betting.feed.sync import events_sync
from core.errors import DependencyDown
from core.logging import bind_correlation_id, current_correlation_id
from settlement.models import SettlementRun
from settlement.selectors import events_due
from settlement.services.events import EventReport, event_settle

log = structlog.get_logger(__name__)

Status = SettlementRun.Status
HEARTBEAT_EVERY_S = 5.0
# A queued run not started after this long has probably lost its task; the beat executes it.
QUEUED_LOST_AFTER_S = 120


def settlement_run_create(
    *,
    trigger: str,
    event_id: int | None = None,
    sync_feed: bool = False,
    dry_run: bool = False,
    requested_by: str = "",
) -> SettlementRun:
    if trigger not in SettlementRun.Trigger.values:
        raise ValueError(f"unknown trigger {trigger!r}")
    return SettlementRun.objects.create(
        trigger=trigger,
        target_event_id=event_id,
        sync_feed=sync_feed,
        dry_run=dry_run,
        requested_by=requested_by[:128],
        correlation_id=current_correlation_id() or "",
    )


def settlement_request(*, trigger: str, event_id: int | None = None, requested_by: str = "") -> SettlementRun:
    """Queue a run for a worker (after the current transaction commits, if one is open). An event
    that already has a run waiting in the queue gets no second one."""
    if event_id is not None:
        waiting = SettlementRun.objects.filter(
            status=Status.QUEUED,
            target_event_id=event_id,
            dry_run=False,
            created_at__gte=timezone.now() - timedelta(seconds=QUEUED_LOST_AFTER_S),
        ).first()
        if waiting is not None:
            return waiting
    run = settlement_run_create(trigger=trigger, event_id=event_id, requested_by=requested_by)
    transaction.on_commit(lambda: _enqueue(run.pk), robust=True)
    return run


def _enqueue(run_id: int, *, countdown: float | None = None) -> None:
    from settlement.tasks import run_execute

    if countdown is None:
        run_execute.apply_async(args=(run_id,))
    else:
        run_execute.apply_async(args=(run_id,), countdown=countdown)


def settlement_run(
    *,
    trigger: str,
    event_id: int | None = None,
    sync_feed: bool = False,
    dry_run: bool = False,
    requested_by: str = "",
    now: datetime | None = None,
) -> SettlementRun:
    """Create a run and execute it here and now (cron, command, admin, beat)."""
    run = settlement_run_create(
        trigger=trigger, event_id=event_id, sync_feed=sync_feed, dry_run=dry_run, requested_by=requested_by
    )
    return settlement_run_execute(run_id=run.pk, now=now)


def settlement_run_execute(
    *, run_id: int, now: datetime | None = None, progress: Callable[[EventReport], None] | None = None
) -> SettlementRun:
    """Execute a queued (or retrying) run; a run someone else holds or that is over is returned as is."""
    started = timezone.now()
    run = SettlementRun.objects.filter(pk=run_id).first()
    if run is None:
        raise SettlementRun.DoesNotExist(f"no settlement run {run_id}")
    moved = SettlementRun.objects.filter(pk=run_id, status__in=[Status.QUEUED, Status.RETRYING]).update(
        status=Status.RUNNING,
        started_at=Coalesce(F("started_at"), started),
        heartbeat_at=started,
        attempts=F("attempts") + 1,
        next_attempt_at=None,
    )
    if not moved:
        return run
    run.refresh_from_db()
    if run.correlation_id:
        bind_correlation_id(run.correlation_id)
    else:
        run.correlation_id = current_correlation_id() or bind_correlation_id(None)
    errors: list[dict[str, Any]] = []
    reports: list[EventReport] = []

    last_beat = [time.monotonic()]

    def heartbeat() -> None:
        """Progress, at most every few seconds: a run silent for SETTLEMENT_RUN_STALE_S is dead."""
        if time.monotonic() - last_beat[0] >= HEARTBEAT_EVERY_S:
            last_beat[0] = time.monotonic()
            SettlementRun.objects.filter(pk=run_id, status=Status.RUNNING).update(heartbeat_at=timezone.now())

    if run.sync_feed:
        try:
            synced = events_sync()
            log.info("settlement.feed_synced", run=run_id, **synced.as_dict())
        except DependencyDown as exc:
            errors.append({"stage": "feed", "code": exc.code, "error": exc.message})
    event_ids = [run.target_event_id] if run.target_event_id else events_due(now=now or timezone.now())
    settle = partial(event_settle, now=now, dry_run=run.dry_run, on_chunk=heartbeat)
    for event_id, outcome in _events_settled(event_ids, settle):
        if isinstance(outcome, Exception):
            log.error("settlement.event_failed", run=run_id, event_id=event_id, exc_info=outcome)
            errors.append({"stage": "event", "event": event_id, "error": f"{type(outcome).__name__}: {outcome}"[:500]})
            continue
        report = outcome
        reports.append(report)
        errors.extend(report.errors)
        if report.failed and not report.errors:
            errors.append({"stage": "slips", "event": event_id, "failed": report.failed})
        if progress is not None:
            progress(report)
    return _run_finish(run, reports=reports, errors=errors, event_ids=event_ids)


def _events_settled(
    event_ids: list[int], settle: Callable[..., EventReport]
) -> Iterator[tuple[int, EventReport | Exception]]:
    """Each event's report, or what it raised, in the order of `event_ids`.

    Up to SETTLEMENT_THREADS events settle at once, each thread on its own database connection:
    while one waits on PostgreSQL another grades and prices, and PostgreSQL works on several cores.
    Inside a caller's transaction (a test, an operator's script) the events settle one after the
    other on that transaction's connection, the only one that sees its uncommitted rows.
    """
    threads = min(settings.SETTLEMENT_THREADS, len(event_ids))
    if threads <= 1 or connection.in_atomic_block:
        for event_id in event_ids:
            yield event_id, _outcome(settle, event_id)
        return
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="settle") as pool:
        # Each task runs in a copy of this context: the run's correlation id reaches its log lines.
        futures = [pool.submit(contextvars.copy_context().run, _in_thread, settle, e) for e in event_ids]
        for event_id, future in zip(event_ids, futures, strict=True):
            yield event_id, future.result()


def _outcome(settle: Callable[..., EventReport], event_id: int) -> EventReport | Exception:
    try:
        return settle(event_id=event_id)
    except Exception as exc:  # noqa: BLE001 - a run records every failure and is retried
        return exc


def _in_thread(settle: Callable[..., EventReport], event_id: int) -> EventReport | Exception:
    try:
        return _outcome(settle, event_id)
    finally:
        connection.close()  # the thread's own connection (back to the pool, if there is one)


def _run_finish(
    run: SettlementRun, *, reports: list[EventReport], errors: list[dict[str, Any]], event_ids: list[int]
) -> SettlementRun:
    finished = timezone.now()
    money: dict[str, dict[str, int]] = {}
    for report in reports:
        for currency, figures in report.money.items():
            total = money.setdefault(currency, dict.fromkeys(figures, 0))
            for name, value in figures.items():
                total[name] = total.get(name, 0) + value
    failed = bool(errors)
    delays = settings.SETTLEMENT_RETRY_DELAYS_S
    retry = failed and not run.dry_run and run.attempts <= len(delays)
    status = Status.RETRYING if retry else Status.FAILED if failed else Status.SUCCEEDED
    next_attempt_at = finished + timedelta(seconds=delays[run.attempts - 1]) if retry else None
    fields: dict[str, Any] = {
        "status": status,
        "finished_at": finished,
        "heartbeat_at": finished,
        "next_attempt_at": next_attempt_at,
        "events": len(reports),
        "event_ids": event_ids[:500],
        "slips_settled": sum(r.settled for r in reports),
        "slips_resettled": sum(r.resettled for r in reports),
        "selections_graded": sum(len(r.grading.written) for r in reports if r.grading),
        "money": money,
        "errors": errors[:50],
        "summary": {"events": [r.as_dict() for r in reports[:200]]},
        "correlation_id": run.correlation_id,
    }
    SettlementRun.objects.filter(pk=run.pk, status=Status.RUNNING).update(**fields)
    for name, value in fields.items():
        setattr(run, name, value)
    log_method = log.warning if failed else log.info
    log_method(
        "settlement.run_finished",
        run=run.pk,
        trigger=run.trigger,
        status=status,
        attempt=run.attempts,
        events=len(reports),
        slips_settled=fields["slips_settled"],
        slips_resettled=fields["slips_resettled"],
        errors=len(errors),
        duration_ms=run.duration_ms,
    )
    if retry and next_attempt_at is not None:
        try:
            _enqueue(run.pk, countdown=(next_attempt_at - finished).total_seconds())
        except Exception:  # noqa: BLE001 - the broker is down: the beat sweep retries the run when due
            log.warning("settlement.retry_not_queued", run=run.pk)
    return run


def settlement_runs_reap(*, now: datetime | None = None) -> int:
    """Mark failed the runs whose process died (RUNNING with no progress for SETTLEMENT_RUN_STALE_S)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.SETTLEMENT_RUN_STALE_S)
    stale = SettlementRun.objects.filter(status=Status.RUNNING, heartbeat_at__lt=cutoff)
    return stale.update(
        status=Status.FAILED,
        finished_at=now,
        errors=[{"stage": "run", "error": "no progress: the process running it stopped"}],
    )


def settlement_runs_due(*, now: datetime | None = None) -> list[int]:
    """Runs whose task may have been lost: waiting to retry past their time, or queued for longer
    than QUEUED_LOST_AFTER_S (a broker restart, a flushed queue). Executing one twice is harmless:
    the compare-and-set lets one through."""
    now = now or timezone.now()
    due = SettlementRun.objects.filter(
        Q(status=Status.RETRYING, next_attempt_at__lte=now)
        | Q(status=Status.QUEUED, created_at__lte=now - timedelta(seconds=QUEUED_LOST_AFTER_S))
    )
    return list(due.order_by("created_at").values_list("pk", flat=True)[:100])


def sync_and_settle(*, now: datetime | None = None) -> SettlementRun:
    """What the beat does every SETTLEMENT_INTERVAL_MIN: tidy up runs, retry the ones due, then pull
    results from the feed and settle every event due."""
    settlement_runs_reap(now=now)
    for run_id in settlement_runs_due(now=now):
        settlement_run_execute(run_id=run_id, now=now)
    return settlement_run(trigger=SettlementRun.Trigger.BEAT, sync_feed=True, now=now, requested_by="beat")
