"""Settle one event: grade its selections, then settle its slips chunk by chunk.

Every step is its own database transaction that first takes the event's advisory lock: the
grading, each chunk of slips (`SETTLEMENT_CHUNK_SIZE`), and the closing mark that the pass is
complete. A worker killed anywhere leaves whole chunks behind it, never half of one; the next
run finds the event still due (its pass was not marked complete) and the slips still pending,
and carries on. Racing passes on one event take turns chunk by chunk; each chunk re-reads its
slips under the lock and moves them by compare-and-set, so each slip is settled once.

A dry run does all of it inside one transaction that is rolled back: what it reports is exactly
what a real run would have done at that moment, and nothing is kept.
"""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import structlog
from django.conf import settings
from django.db import DataError, IntegrityError, connection, transaction
from django.utils import timezone

from betting.models import BetSlip
from core.errors import ApplicationError
from core.metrics import BETS_SETTLED, SETTLEMENT_LATENCY
from settlement.locks import event_lock
from settlement.services.grading import GradingReport, event_grade
from settlement.services.slips import SETTLED, ChunkContext, ChunkResult, Settled, slips_settle

log = structlog.get_logger(__name__)


@dataclass
class EventReport:
    event_id: int
    grading: GradingReport | None = None
    settled: int = 0  # first settlements
    resettled: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    money: dict[str, dict[str, int]] = field(default_factory=dict)
    waiting: int = 0  # pending slips with a leg not graded yet
    unchanged: int = 0
    raced: int = 0  # slips another pass settled, or a cashout took, first
    ungraded: Counter[str] = field(default_factory=Counter)
    chunks: int = 0
    failed: int = 0  # slips that raised (their errors, the first few, in `errors`)
    errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, chunk: ChunkResult) -> None:
        self.chunks += 1
        self.waiting += chunk.waiting
        self.unchanged += chunk.unchanged
        self.raced += chunk.raced
        self.ungraded.update(chunk.ungraded)
        for item in chunk.settled:
            self.by_status[item.status] += 1
            figures = self.money.setdefault(item.currency, {"slips": 0, "stake": 0, "payout": 0, "payout_change": 0})
            if item.resettled:
                self.resettled += 1
                figures["payout_change"] += item.payout - (item.previous_payout or 0)
            else:
                self.settled += 1
                figures["slips"] += 1
                figures["stake"] += item.stake
                figures["payout"] += item.payout

    def as_dict(self) -> dict[str, Any]:
        grading = self.grading
        return {
            "event": self.event_id,
            "result_version": grading.result_version if grading else None,
            "event_status": grading.status if grading else None,
            "selections_written": len(grading.written) if grading else 0,
            "correction_ignored": bool(grading and grading.ignored_correction),
            "settled": self.settled,
            "resettled": self.resettled,
            "by_status": dict(self.by_status),
            "money": self.money,
            "waiting": self.waiting,
            "unchanged": self.unchanged,
            "raced": self.raced,
            "ungraded": dict(self.ungraded),
            "failed": self.failed,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


def _fixed(moment: datetime) -> datetime:
    return moment


@contextmanager
def _step(dry_run: bool) -> Iterator[None]:
    """One step of a pass: its own durable transaction, or a savepoint of the dry run's."""
    with transaction.atomic(durable=not dry_run):
        yield


class _GcPause:
    """Python's cyclic garbage collector off while any chunk runs, in any thread.

    A chunk makes tens of thousands of short-lived containers (rows, legs, ledger lines), which
    trigger collections that walk every object the process holds: measured, they were a third of
    the Python time of a settlement. Reference counting frees the chunk's objects as usual; the
    collector is back on once no chunk runs, so cycles are still collected.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._was_enabled = True

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0 and self._was_enabled:
                    gc.enable()


_gc_paused = _GcPause()


def event_settle(
    *,
    event_id: int,
    now: datetime | None = None,
    dry_run: bool = False,
    chunk_size: int | None = None,
    on_chunk: Callable[[], None] | None = None,
) -> EventReport:
    """Grade the event, then settle (or resettle) every slip of it that can be settled now.

    `now` (default: the clock) decides the grading; slips are stamped settled when their chunk runs.
    """
    clock: Callable[[], datetime] = timezone.now if now is None else partial(_fixed, now)
    started = time.perf_counter()
    report = EventReport(event_id=event_id)
    if dry_run:
        with transaction.atomic():
            _pass(report, clock=clock, dry_run=True, chunk_size=chunk_size, on_chunk=None)
            transaction.set_rollback(True)
    else:
        _pass(report, clock=clock, dry_run=False, chunk_size=chunk_size, on_chunk=on_chunk)
    report.seconds = time.perf_counter() - started
    log.info(
        "settlement.event_settled",
        event_id=event_id,
        dry_run=dry_run,
        settled=report.settled,
        resettled=report.resettled,
        waiting=report.waiting,
        failed=report.failed,
        seconds=round(report.seconds, 3),
    )
    return report


def _pass(
    report: EventReport,
    *,
    clock: Callable[[], datetime],
    dry_run: bool,
    chunk_size: int | None,
    on_chunk: Callable[[], None] | None,
) -> None:
    event_id = report.event_id
    with _step(dry_run):
        event_lock(event_id)
        report.grading = grading = event_grade(event_id=event_id, now=clock())
    slip_ids = _slip_ids(event_id, resettle=grading.resettle)
    size = chunk_size or settings.SETTLEMENT_CHUNK_SIZE
    context = ChunkContext()
    for start in range(0, len(slip_ids), size):
        chunk = slip_ids[start : start + size]
        try:
            with _gc_paused(), _step(dry_run):
                event_lock(event_id)
                result = slips_settle(slip_ids=chunk, now=clock(), resettle=grading.resettle, context=context)
                transaction.on_commit(partial(_count, result.settled))
        except _SLIP_ERRORS as exc:
            # One bad slip must not hold up the others: settle this chunk slip by slip.
            log.warning("settlement.chunk_failed", event_id=event_id, slips=len(chunk), error=str(exc))
            context = ChunkContext()
            result = _one_by_one(
                report, chunk, event_id=event_id, clock=clock, resettle=grading.resettle, dry_run=dry_run
            )
        report.add(result)
        if on_chunk is not None:
            on_chunk()
    with _step(dry_run):
        event_lock(event_id)
        _pass_complete(event_id, generation=grading.generation, now=clock())


# What one slip's data can raise. Lost connections and the like (OperationalError, InterfaceError)
# are not among them: they fail the run, which is retried.
_SLIP_ERRORS = (ApplicationError, IntegrityError, DataError, ValueError, ArithmeticError, RuntimeError)
_ERRORS_KEPT = 20


def _one_by_one(
    report: EventReport,
    chunk: list[int],
    *,
    event_id: int,
    clock: Callable[[], datetime],
    resettle: bool,
    dry_run: bool,
) -> ChunkResult:
    total = ChunkResult()
    for slip_id in chunk:
        try:
            with _step(dry_run):
                event_lock(event_id)
                result = slips_settle(slip_ids=[slip_id], now=clock(), resettle=resettle, context=ChunkContext())
                transaction.on_commit(partial(_count, result.settled))
        except _SLIP_ERRORS as exc:
            log.error("settlement.slip_failed", event_id=event_id, slip=slip_id, error=str(exc), exc_info=True)
            if len(report.errors) < _ERRORS_KEPT:
                report.errors.append(
                    {"event": event_id, "slip": slip_id, "error": f"{type(exc).__name__}: {exc}"[:500]}
                )
            report.failed += 1
            continue
        total.settled.extend(result.settled)
        total.waiting += result.waiting
        total.unchanged += result.unchanged
        total.raced += result.raced
        total.ungraded.update(result.ungraded)
    return total


def _slip_ids(event_id: int, *, resettle: bool) -> list[int]:
    statuses = [BetSlip.Status.PENDING, *SETTLED] if resettle else [BetSlip.Status.PENDING]
    # The event's legs on their index, then the slips on their primary key: a join would be planned
    # as a scan of every slip whenever the statistics think many are pending. Never prepared
    # (psycopg's own cursor, `prepare=False`): planned for the event's real number of legs.
    with connection.cursor() as cursor:
        cursor.cursor.execute(
            """
            SELECT s.id FROM betting_betslip s
            WHERE s.id = ANY(ARRAY(SELECT slip_id FROM betting_betleg WHERE event_id = %s)) AND s.status = ANY(%s)
            ORDER BY s.id
            """,
            [event_id, [str(s) for s in statuses]],
            prepare=False,
        )
        return [row[0] for row in cursor.fetchall()]


def _pass_complete(event_id: int, *, generation: int, now: datetime) -> None:
    """Mark the pass the grading step saw as done; a newer generation keeps the event due."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE settlement_eventsettlement
            SET settled_generation = GREATEST(settled_generation, %(g)s),
                resettle = CASE WHEN generation = %(g)s THEN false ELSE resettle END,
                last_settled_at = %(now)s, updated_at = %(now)s
            WHERE event_id = %(event)s
            """,
            {"g": generation, "now": now, "event": event_id},
        )


def _count(settled: list[Settled]) -> None:
    """Metrics, once the chunk has committed: slips settled, and result received -> settled."""
    by_status: dict[str, int] = defaultdict(int)
    now = timezone.now()  # the chunk's commit, give or take what this loop takes
    for item in settled:
        by_status[item.status] += 1
        if item.result_at is not None and not item.resettled:
            SETTLEMENT_LATENCY.observe(max((now - item.result_at).total_seconds(), 0.0))
    for status, count in by_status.items():
        BETS_SETTLED.labels(status).inc(count)
