"""Batch runs: take the due payouts a batch at a time and pay each through Stripe.

One run at a time (a PostgreSQL session advisory lock); inside it, at most
PAYOUT_MAX_CONCURRENCY Stripe calls in flight (a pool of worker threads, each with its own
database connection). A batch is claimed in one short transaction (QUEUED -> PROCESSING, with
SKIP LOCKED); each call then runs with no transaction open, and its outcome is written in its own
short transaction (services.payout_record_*). A payout left PROCESSING by a run that died is
queued again by the next run: the retry carries the same idempotency key, so Stripe replays a
transfer it already made instead of making a second one.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import structlog
from django.conf import settings
from django.core.mail import send_mail
from django.db import connection, connections, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from redis.exceptions import RedisError

from core.errors import Conflict
from core.idempotency import advisory_key
from core.logging import bind_correlation_id, current_correlation_id, new_correlation_id
from core.metrics import PAYOUT_OUTCOMES, PAYOUT_RUN_SECONDS, PAYOUT_RUNS, PAYOUT_STRIPE_SECONDS
from ledger.currencies import format_amount
from payments.models import Payee, Payout, PayoutRun, PayoutSchedule
from payments.payouts import alerts, services
from payments.payouts.breaker import BreakerState, Permit, breaker
from payments.payouts.config import retry_delay_s
from payments.payouts.schedules import due_schedules, due_slot, next_scheduled_time, slot_claim
from payments.payouts.selectors import due_payouts
from payments.payouts.stripe_adapter import (
    Outcome,
    StripeLookupFailed,
    TransferResult,
    ensure_no_transaction,
    transfer_create,
    transfer_find,
    transfer_reverse,
)

log = structlog.get_logger(__name__)

RUN_LOCK = "payouts:run"
MAX_ERRORS_KEPT = 200
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class RunOptions:
    trigger: str
    dry_run: bool = False
    batch_size: int | None = None
    max_retries: int | None = None
    min_threshold: Decimal | None = None
    concurrency: int | None = None
    only_retries: bool = False
    skip_if_nothing_due: bool = False
    schedule_id: int | None = None
    slot_at: datetime | None = None
    triggered_by_id: int | None = None


@dataclass
class RunReport:
    """What a run did (or, dry, would do); the API and the command print it."""

    run_id: str
    dry_run: bool
    status: str
    total_payouts: int = 0
    successful_payouts: int = 0
    failed_payouts: int = 0
    retried_payouts: int = 0
    total_amount: dict[str, int] = field(default_factory=dict)
    duration_ms: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    next_scheduled_at: datetime | None = None
    correlation_id: str = ""
    stop_reason: str = ""
    would_pay: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_run(cls, run: PayoutRun) -> RunReport:
        return cls(
            run_id=run.run_id,
            dry_run=False,
            status=run.status,
            total_payouts=run.total_payouts,
            successful_payouts=run.successful_payouts,
            failed_payouts=run.failed_payouts,
            retried_payouts=run.retried_payouts,
            total_amount=dict(run.total_amount),
            duration_ms=run.duration_ms or 0,
            errors=list(run.errors),
            next_scheduled_at=run.next_scheduled_at,
            correlation_id=run.correlation_id,
            stop_reason=run.stop_reason,
        )


@dataclass(frozen=True)
class Claim:
    id: int
    user_id: int
    amount: int
    currency: str
    destination: str
    attempts: int
    max_retries: int


@dataclass(frozen=True)
class Attempt:
    payout_id: int
    result: str  # paid | failed | retry | review | released | skipped
    amount: int
    currency: str
    code: str = ""
    message: str = ""
    # A transfer Stripe made that the run still has to record (PAID_UNRECORDED), in bulk.
    transfer_id: str = ""
    elapsed_ms: int | None = None


PAID_UNRECORDED = "paid_unrecorded"


@dataclass
class RunContext:
    run_pk: int
    correlation_id: str
    stop_reason: str = ""
    # System accounts per currency, looked up once per run (the workers post to them).
    accounts: dict[str, services.PaidAccounts] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def stop(self, reason: str) -> None:
        with self._lock:
            if not self.stop_reason:
                self.stop_reason = reason


class WorkerPool:
    """Threads that run calls and close their database connections when the pool closes."""

    def __init__(self, size: int, correlation_id: str) -> None:
        self._tasks: queue.SimpleQueue[tuple[Callable[[Any], Any], Any, Future[Any]] | None] = queue.SimpleQueue()
        self._correlation_id = correlation_id
        self._threads = [
            threading.Thread(target=self._work, name=f"payout-worker-{n}", daemon=True) for n in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        bind_correlation_id(self._correlation_id)
        try:
            while (item := self._tasks.get()) is not None:
                fn, arg, future = item
                try:
                    future.set_result(fn(arg))
                except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
                    future.set_exception(exc)
        finally:
            connections.close_all()

    def submit(self, fn: Callable[[T], R], item: T) -> Future[R]:
        future: Future[R] = Future()
        self._tasks.put((fn, item, future))
        return future

    def close(self) -> None:
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            thread.join()


@contextmanager
def run_lock() -> Iterator[None]:
    """One run at a time across every process; a second caller gets a 409 at once."""
    key = advisory_key(RUN_LOCK)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        if not cursor.fetchone()[0]:
            raise Conflict("A payout run is already in progress.", code="run_in_progress")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def run_in_progress() -> bool:
    return PayoutRun.objects.filter(status=PayoutRun.Status.RUNNING).exists()


# --- Claiming ---------------------------------------------------------------------------------


def _claim(*, run_pk: int, limit: int, threshold: Decimal, only_retries: bool, max_retries: int) -> list[Claim]:
    now = timezone.now()
    with transaction.atomic(durable=True):
        ids = list(
            due_payouts(now=now, min_threshold=threshold, only_retries=only_retries)
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        # The first attempt fixes the destination and the retry budget; retries reuse both, so
        # Stripe sees the same parameters under the same key.
        payee_account = Payee.objects.filter(pk=OuterRef("payee_id")).values("stripe_account_id")[:1]
        Payout.objects.filter(pk__in=ids, attempts=0).update(
            destination=Subquery(payee_account), max_retries=max_retries
        )
        Payout.objects.filter(pk__in=ids).update(
            status=Payout.Status.PROCESSING,
            claimed_at=now,
            last_run_id=run_pk,
            attempts=F("attempts") + 1,
            updated_at=now,
        )
        rows = Payout.objects.filter(pk__in=ids).order_by("pk")
        return [Claim(p.pk, p.user_id, p.amount, p.currency, p.destination, p.attempts, p.max_retries) for p in rows]


# --- One attempt ------------------------------------------------------------------------------


def _released(claim: Claim) -> Attempt:
    services.payout_release(payout_id=claim.id)
    return Attempt(claim.id, "released", claim.amount, claim.currency)


def _attempt(claim: Claim, ctx: RunContext) -> Attempt:
    if ctx.stop_reason:
        return _released(claim)
    try:
        permit = breaker.allow()
    except RedisError as exc:
        ctx.stop(f"circuit breaker state unavailable: {exc}")
        return _released(claim)
    if permit is Permit.DENIED:
        return _released(claim)
    result = transfer_create(
        payout_id=claim.id,
        user_id=claim.user_id,
        amount=claim.amount,
        currency=claim.currency,
        destination=claim.destination,
    )
    PAYOUT_OUTCOMES.labels(str(result.outcome)).inc()
    PAYOUT_STRIPE_SECONDS.observe(result.elapsed_ms / 1000)
    return _apply(claim, result, permit, ctx)


def _apply(claim: Claim, result: TransferResult, permit: Permit, ctx: RunContext) -> Attempt:
    ms = result.elapsed_ms
    if result.outcome is Outcome.PAID:
        breaker.record_success()
        # Recorded by the run in bulk (`_Recorder`): one transaction for many, not one each.
        return Attempt(
            claim.id, PAID_UNRECORDED, claim.amount, claim.currency, transfer_id=result.transfer_id, elapsed_ms=ms
        )
    if result.outcome is Outcome.DECLINED:
        breaker.record_success()  # Stripe answered: it is up
        services.payout_record_failed(
            payout_id=claim.id, code=result.code, message=result.message, flag_payee=result.flags_payee, elapsed_ms=ms
        )
        if result.code == "insufficient_funds":
            alerts.alert_raise(
                type="system_error",
                severity="critical",
                message="Stripe declined a transfer for lack of funds in the platform balance.",
                details={"payout": claim.id},
                dedupe_key="system_error:insufficient_funds",
                run_id=ctx.run_pk,
            )
        return Attempt(claim.id, "failed", claim.amount, claim.currency, result.code, result.message)
    if result.outcome is Outcome.UNKNOWN:
        services.payout_record_review(payout_id=claim.id, code=result.code, message=result.message, elapsed_ms=ms)
        alerts.alert_raise(
            type="system_error",
            severity="critical",
            message="A payout may or may not have been paid by Stripe: it is held for review.",
            details={"payout": claim.id, "code": result.code, "message": result.message},
            dedupe_key="system_error:review",
            run_id=ctx.run_pk,
        )
        return Attempt(claim.id, "review", claim.amount, claim.currency, result.code, result.message)
    if result.outcome is Outcome.SYSTEM:
        ctx.stop(f"Stripe refused the platform's request ({result.code}): check STRIPE_SECRET_KEY")
        alerts.alert_raise(
            type="system_error",
            severity="critical",
            message=f"Stripe refused the platform's credentials ({result.code}); payouts are stopped.",
            details={"code": result.code, "message": result.message},
            dedupe_key="system_error:credentials",
            run_id=ctx.run_pk,
        )
        return _released(claim)
    # TRANSIENT
    if breaker.record_failure(trial=permit is Permit.TRIAL):
        ctx.stop("circuit breaker open")
        alerts.alert_raise(
            type="system_error",
            severity="critical",
            message="Stripe keeps failing: the payout circuit breaker opened.",
            details={"last_code": result.code, "cooldown_s": settings.PAYOUT_BREAKER_COOLDOWN_S},
            dedupe_key="system_error:breaker",
            run_id=ctx.run_pk,
        )
    if claim.attempts > claim.max_retries:
        return _exhausted(claim, result)
    services.payout_record_retry(
        payout_id=claim.id,
        code=result.code,
        message=result.message,
        delay_s=retry_delay_s(claim.attempts),
        elapsed_ms=ms,
    )
    return Attempt(claim.id, "retry", claim.amount, claim.currency, result.code, result.message)


def _exhausted(claim: Claim, result: TransferResult) -> Attempt:
    """Retries used up. The last attempt may have reached Stripe: ask before giving the money back."""
    try:
        transfer_id = transfer_find(payout_id=claim.id)
    except StripeLookupFailed as exc:
        services.payout_record_retry(
            payout_id=claim.id,
            code=result.code,
            message=f"retries used up; lookup failed: {exc}",
            delay_s=retry_delay_s(claim.attempts),
            elapsed_ms=result.elapsed_ms,
        )
        return Attempt(claim.id, "retry", claim.amount, claim.currency, result.code, "lookup failed")
    if transfer_id:
        services.payout_record_paid(payout_id=claim.id, transfer_id=transfer_id, elapsed_ms=result.elapsed_ms)
        return Attempt(claim.id, "paid", claim.amount, claim.currency)
    message = f"gave up after {claim.attempts} attempts: {result.message or result.code}"
    services.payout_record_failed(
        payout_id=claim.id, code=result.code, message=message, flag_payee=False, elapsed_ms=result.elapsed_ms
    )
    return Attempt(claim.id, "failed", claim.amount, claim.currency, result.code, message)


# --- A run ------------------------------------------------------------------------------------


def _dry_run(options: RunOptions, threshold: Decimal) -> RunReport:
    due = due_payouts(now=timezone.now(), min_threshold=threshold, only_retries=options.only_retries)
    totals: dict[str, int] = defaultdict(int)
    would_pay: list[dict[str, Any]] = []
    count = 0
    for payout in due.values("id", "amount", "currency", "attempts"):
        count += 1
        totals[payout["currency"]] += payout["amount"]
        if len(would_pay) < 100:
            would_pay.append({"payoutId": payout["id"], "amount": payout["amount"], "currency": payout["currency"]})
    return RunReport(
        run_id=f"dry_{uuid.uuid4().hex[:16]}",
        dry_run=True,
        status="dry_run",
        total_payouts=count,
        total_amount=dict(totals),
        next_scheduled_at=next_scheduled_time(),
        correlation_id=current_correlation_id() or "",
        stop_reason="circuit breaker open" if breaker.status().state is BreakerState.OPEN else "",
        would_pay=would_pay,
    )


def payout_run_execute(options: RunOptions) -> RunReport | None:
    """Run the due payouts (or say what a run would do). None when there was nothing to run:
    a schedule's occurrence another trigger already ran, or a retry sweep with nothing due."""
    threshold = Decimal(
        str(options.min_threshold if options.min_threshold is not None else settings.PAYOUT_MIN_THRESHOLD)
    )
    if options.dry_run:
        return _dry_run(options, threshold)
    ensure_no_transaction()
    cid = current_correlation_id() or bind_correlation_id(new_correlation_id())
    with run_lock():
        services.payouts_requeue_orphans()
        if (
            options.skip_if_nothing_due
            and not due_payouts(now=timezone.now(), min_threshold=threshold, only_retries=options.only_retries).exists()
        ):
            return None
        if options.schedule_id is not None and options.slot_at is not None:
            if not slot_claim(schedule_id=options.schedule_id, slot=options.slot_at):
                return None
        run = PayoutRun.objects.create(
            run_id=f"{options.trigger}_run_{uuid.uuid4().hex[:16]}",
            trigger=options.trigger,
            schedule_id=options.schedule_id,
            triggered_by_id=options.triggered_by_id,
            batch_size=options.batch_size or settings.PAYOUT_BATCH_SIZE,
            max_retries=options.max_retries if options.max_retries is not None else settings.PAYOUT_MAX_RETRIES,
            concurrency=options.concurrency or settings.PAYOUT_MAX_CONCURRENCY,
            min_threshold=threshold,
            correlation_id=cid,
        )
        log.info("payouts.run_started", run=run.run_id, trigger=options.trigger)
        ctx = RunContext(run_pk=run.pk, correlation_id=cid)
        started = time.monotonic()
        attempts: list[Attempt] = []
        crashed = ""
        try:
            _process(run, ctx, options, attempts)
        except Exception as exc:
            log.exception("payouts.run_crashed", run=run.run_id)
            crashed = f"{type(exc).__name__}: {exc}"[:255]
        run = _finish(run, ctx, attempts, crashed, time.monotonic() - started)
    _after_run(run)
    return RunReport.from_run(run)


class _Recorder:
    """Collects the attempts of a run and writes the paid ones in bulk (services.payouts_record_paid_bulk).

    Until written, a paid payout stays PROCESSING: if the run dies first, the next run sends it
    again with the same key and Stripe replays the transfer, which is then recorded."""

    def __init__(self, ctx: RunContext, attempts: list[Attempt], flush_at: int) -> None:
        self.ctx, self.attempts, self.flush_at = ctx, attempts, max(flush_at, 1)
        self.unrecorded: list[Attempt] = []

    def add(self, attempt: Attempt) -> None:
        if attempt.result == PAID_UNRECORDED:
            self.unrecorded.append(attempt)
            if len(self.unrecorded) >= self.flush_at:
                self.flush()
            return
        self.attempts.append(attempt)
        if attempt.result == "released":
            self.ctx.stop("circuit breaker open")

    def flush(self) -> None:
        if not self.unrecorded:
            return
        moved = services.payouts_record_paid_bulk(
            paid=[
                services.PaidTransfer(a.payout_id, a.amount, a.currency, a.transfer_id, a.elapsed_ms)
                for a in self.unrecorded
            ],
            accounts=self.ctx.accounts,
        )
        for a in self.unrecorded:
            self.attempts.append(
                Attempt(a.payout_id, "paid" if a.payout_id in moved else "skipped", a.amount, a.currency)
            )
        self.unrecorded = []


def _process(run: PayoutRun, ctx: RunContext, options: RunOptions, attempts: list[Attempt]) -> None:
    """Claim a batch, hand it to the workers, and claim the next one as soon as a worker is about
    to be idle, so that the calls in flight stay at the concurrency without waiting for the
    slowest call of each batch. A half-open breaker's trial call goes alone."""
    pool = WorkerPool(run.concurrency, ctx.correlation_id) if run.concurrency > 1 else None
    deadline = time.monotonic() + settings.PAYOUT_RUN_TIME_LIMIT_S
    in_flight: list[Future[Attempt]] = []
    recorder = _Recorder(ctx, attempts, flush_at=run.batch_size)

    def collect(*, until: int) -> None:
        """Wait until at most `until` attempts are unfinished; record the finished ones."""
        while in_flight:
            done = [f for f in in_flight if f.done()]
            if len(in_flight) - len(done) > until and not done:
                wait(in_flight, return_when=FIRST_COMPLETED)
                continue
            for future in done:
                in_flight.remove(future)
                recorder.add(future.result())
            if len(in_flight) <= until:
                return

    try:
        while not ctx.stop_reason:
            if time.monotonic() > deadline:
                ctx.stop("time limit reached")
                break
            state = breaker.status().state
            if state is BreakerState.OPEN:
                ctx.stop("circuit breaker open")
                break
            if state is BreakerState.HALF_OPEN and in_flight:
                collect(until=0)
                continue
            claims = _claim(
                run_pk=run.pk,
                limit=1 if state is BreakerState.HALF_OPEN else run.batch_size,
                threshold=run.min_threshold,
                only_retries=options.only_retries,
                max_retries=run.max_retries,
            )
            if not claims:
                break
            for currency in {c.currency for c in claims} - set(ctx.accounts):
                ctx.accounts[currency] = services.paid_accounts(currency)
            if pool is None:
                for claim in claims:
                    recorder.add(_attempt(claim, ctx))
                recorder.flush()
                continue
            in_flight.extend(pool.submit(lambda claim: _attempt(claim, ctx), claim) for claim in claims)
            collect(until=0 if state is BreakerState.HALF_OPEN else run.concurrency)
        collect(until=0)
        recorder.flush()
    finally:
        if pool is not None:
            pool.close()  # every attempt handed out finishes (or is released once the run stops)


def _finish(run: PayoutRun, ctx: RunContext, attempts: list[Attempt], crashed: str, elapsed_s: float) -> PayoutRun:
    tried = [a for a in attempts if a.result not in ("released", "skipped")]
    paid: dict[str, int] = defaultdict(int)
    for a in tried:
        if a.result == "paid":
            paid[a.currency] += a.amount
    errors = [
        {"payoutId": a.payout_id, "outcome": a.result, "code": a.code, "message": a.message}
        for a in tried
        if a.result != "paid"
    ][:MAX_ERRORS_KEPT]
    if crashed:
        errors.append({"payoutId": None, "outcome": "crash", "code": "system_error", "message": crashed})
    status = PayoutRun.Status.FAILED if crashed else PayoutRun.Status.STOPPED if ctx.stop_reason else "completed"
    run.status = status
    run.total_payouts = len(tried)
    run.successful_payouts = sum(1 for a in tried if a.result == "paid")
    run.failed_payouts = sum(1 for a in tried if a.result in ("failed", "review"))
    run.retried_payouts = sum(1 for a in tried if a.result == "retry")
    run.total_amount = dict(paid)
    run.errors = errors
    run.stop_reason = (crashed or ctx.stop_reason)[:255]
    run.finished_at = timezone.now()
    run.duration_ms = int(elapsed_s * 1000)
    run.next_scheduled_at = next_scheduled_time()
    run.save()
    PAYOUT_RUNS.labels(status).inc()
    PAYOUT_RUN_SECONDS.observe(elapsed_s)
    log.info(
        "payouts.run_finished",
        run=run.run_id,
        status=status,
        total=run.total_payouts,
        paid=run.successful_payouts,
        failed=run.failed_payouts,
        retried=run.retried_payouts,
        duration_ms=run.duration_ms,
    )
    return run


def _after_run(run: PayoutRun) -> None:
    from payments.payouts.monitoring import alerts_evaluate_run

    if run.status == PayoutRun.Status.FAILED:
        alerts.alert_raise(
            type="system_error",
            severity="critical",
            message=f"Payout run {run.run_id} crashed: {run.stop_reason}",
            details={"run": run.run_id},
            dedupe_key="system_error:run_crashed",
            run_id=run.pk,
        )
    alerts_evaluate_run(run)
    schedule = run.schedule
    if schedule is not None and schedule.notification_emails and run.total_payouts:
        amounts = ", ".join(format_amount(v, c) for c, v in sorted(run.total_amount.items())) or "nothing"
        try:
            send_mail(
                f"[Tote payouts] {schedule.name}: {run.successful_payouts}/{run.total_payouts} paid",
                f"Run {run.run_id} ({run.status}) paid {amounts}.\n"
                f"Failed: {run.failed_payouts}, retrying: {run.retried_payouts}, took {run.duration_ms} ms.\n",
                settings.PAYOUT_ALERT_FROM_EMAIL,
                list(schedule.notification_emails),
            )
        except OSError:
            log.exception("payouts.run_summary_mail_failed", run=run.run_id)


# --- Triggers ---------------------------------------------------------------------------------


def payout_schedule_tick(*, schedule_id: int, now: datetime | None = None) -> RunReport | None:
    """Beat's entry point for a schedule: run its occurrence if one is due and has not run."""
    schedule = PayoutSchedule.objects.filter(pk=schedule_id).first()
    if schedule is None:
        return None
    slot = due_slot(schedule, now or timezone.now())
    if slot is None:
        return None
    return payout_run_execute(
        RunOptions(
            trigger=PayoutRun.Trigger.SCHEDULE,
            batch_size=schedule.batch_size,
            max_retries=schedule.max_retries,
            min_threshold=schedule.min_threshold,
            schedule_id=schedule.pk,
            slot_at=slot,
        )
    )


def payouts_cron_run(
    *,
    force: bool,
    dry_run: bool,
    batch_size: int | None = None,
    max_retries: int | None = None,
    trigger: str = PayoutRun.Trigger.CRON,
    triggered_by_id: int | None = None,
) -> RunReport | None:
    """An outside trigger: run now when forced, else only when a schedule's occurrence is due."""
    options: dict[str, Any] = {
        "trigger": trigger,
        "dry_run": dry_run,
        "batch_size": batch_size,
        "max_retries": max_retries,
        "triggered_by_id": triggered_by_id,
    }
    if not force:
        due = due_schedules()
        if not due:
            return None
        schedule, slot = due[0]
        options |= {
            "batch_size": batch_size or schedule.batch_size,
            "max_retries": max_retries if max_retries is not None else schedule.max_retries,
            "min_threshold": schedule.min_threshold,
            "schedule_id": None if dry_run else schedule.pk,
            "slot_at": None if dry_run else slot,
        }
    return payout_run_execute(RunOptions(**options))


def payouts_retry_due() -> RunReport | None:
    """The sweep: pay the retries whose time has come (and recover payouts of a dead run)."""
    try:
        return payout_run_execute(
            RunOptions(trigger=PayoutRun.Trigger.RETRY, only_retries=True, skip_if_nothing_due=True)
        )
    except Conflict:
        return None  # a run is going; it takes the due retries itself


def payout_review_check(*, payout_id: int) -> str | None:
    """Ask Stripe about a payout held for review; marks it paid when the transfer exists."""
    transfer_id = transfer_find(payout_id=payout_id)
    if transfer_id:
        with transaction.atomic(durable=True):
            services.mark_paid_in_tx(payout_id=payout_id, transfer_id=transfer_id, old=[Payout.Status.REVIEW])
    return transfer_id


def payout_transfer_reversal_push(*, payout_id: int) -> str:
    """Pull a returned payout's transfer back from the connected account (same key every try)."""
    payout = Payout.objects.filter(pk=payout_id, transfer_reversal_pending=True).first()
    if payout is None:
        return "nothing_to_do"
    if not payout.stripe_transfer_id:
        Payout.objects.filter(pk=payout_id).update(transfer_reversal_pending=False)
        return "no_transfer"
    result = transfer_reverse(payout_id=payout_id, transfer_id=payout.stripe_transfer_id, amount=payout.amount)
    if result.outcome is Outcome.PAID:
        Payout.objects.filter(pk=payout_id).update(
            transfer_reversal_pending=False, stripe_reversal_id=result.transfer_id, updated_at=timezone.now()
        )
        return "reversed"
    if result.outcome is Outcome.TRANSIENT:
        return "retry_later"  # the sweep tries again
    Payout.objects.filter(pk=payout_id).update(transfer_reversal_pending=False, updated_at=timezone.now())
    alerts.alert_raise(
        type="system_error",
        severity="critical",
        message=f"Stripe refused to reverse the transfer of returned payout {payout_id} ({result.code}): "
        "recover the money from the connected account by hand.",
        details={"payout": payout_id, "transfer": payout.stripe_transfer_id, "code": result.code},
        dedupe_key=f"reversal_refused:{payout_id}",
    )
    return "refused"


def payouts_sweep() -> dict[str, Any]:
    """Periodic: due retries, and transfer reversals still owed by Stripe."""
    report = payouts_retry_due()
    reversed_ids = list(Payout.objects.filter(transfer_reversal_pending=True).values_list("pk", flat=True)[:50])
    outcomes = {pk: payout_transfer_reversal_push(payout_id=pk) for pk in reversed_ids}
    return {"retry_run": report.run_id if report else None, "reversals": outcomes}
