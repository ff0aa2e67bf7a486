"""The outbox relay: committed outbox rows to the channel layer, each marked published once.

A cycle claims rows in one short statement (`SELECT ... FOR UPDATE SKIP LOCKED`, stamped with a
claim id and a lease), publishes them with no transaction open, then marks them published by
compare-and-set on its claim. Several relays (one per process, plus the sweeper) therefore split
the rows between them; a relay that dies mid-cycle leaves a lease that expires, and the next
cycle takes the rows over. Delivery is at least once: a row published but not marked (crash,
lost lease) goes out again with the same `id`, which clients de-duplicate.

Two ways in:
- `relay_wake()`, registered as the outbox's after-commit hook: sets an event that a background
  thread of this process waits on. The committing thread does no I/O and never waits for Redis;
  wake-ups that arrive while a cycle runs coalesce into one more cycle. A thread rather than a
  Celery task because it adds no broker hop to the live path (the benchmark's p99), needs no
  worker to be up for events to flow, and loses nothing if it dies: the sweeper is the safety
  net either way.
- `outbox_sweep()`, run by beat every REALTIME_SWEEP_INTERVAL_S on the realtime queue: what the
  on-commit path missed (crashed process, Redis down for a moment, commits from a process that
  exited right after).

Per user, events go out in `seq` order: see realtime.fanout for how a batch reaches the layer.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.conf import settings
from django.db import connection
from django.db.models.functions import Now
from django.utils import timezone

from core.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISH_DELAY, OUTBOX_PUBLISHED
from realtime.fanout import Fanout, fanout_for
from realtime.models import OutboxEvent
from realtime.protocol import LAYER_EVENT, envelope, topic_group, user_group

log = structlog.get_logger(__name__)
Runner = Callable[[Awaitable[Any]], Any]


@dataclass(frozen=True)
class ClaimedEvent:
    seq: int
    event_id: str
    type: str
    user_id: int | None
    topic: str
    data: dict[str, Any]
    created_at: datetime

    def envelope(self) -> dict[str, Any]:
        return envelope(
            type=self.type, event_id=self.event_id, seq=self.seq, created_at=self.created_at, data=self.data
        )

    def groups(self) -> list[str]:
        groups = [user_group(self.user_id)] if self.user_id is not None else []
        if self.topic:
            try:
                groups.append(topic_group(self.topic))
            except ValueError:
                log.error("outbox_bad_topic", seq=self.seq, topic=self.topic)
        return groups


_CLAIM_SQL = """
WITH picked AS (
    SELECT seq FROM {table}
    WHERE published_at IS NULL AND (lease_until IS NULL OR lease_until < now())
    ORDER BY seq
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {table} AS o
SET claim_id = %(claim)s,
    claimed_at = COALESCE(o.claimed_at, now()),
    lease_until = now() + make_interval(secs => %(lease)s)
FROM picked
WHERE o.seq = picked.seq
RETURNING o.seq, o.event_id, o.type, o.user_id, o.topic, o.data, o.created_at
"""


def outbox_claim(*, limit: int, lease_s: int) -> tuple[uuid.UUID, list[ClaimedEvent]]:
    """Claim up to `limit` unpublished rows nobody holds, oldest first; one statement, so its own
    transaction unless the caller has one open. Rows another relay has locked are skipped."""
    claim_id = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM_SQL.format(table=OutboxEvent._meta.db_table),
            {"limit": limit, "claim": claim_id, "lease": lease_s},
        )
        rows = cursor.fetchall()
    # Django's PostgreSQL backend hands jsonb to JSONField as text; decode it the same way.
    events = sorted(
        (
            ClaimedEvent(seq, eid, type_, uid, topic, json.loads(data) if isinstance(data, str) else data, created)
            for seq, eid, type_, uid, topic, data, created in rows
        ),
        key=lambda e: e.seq,
    )
    return claim_id, events


def outbox_mark_published(*, claim_id: uuid.UUID, seqs: Iterable[int]) -> int:
    """Compare-and-set: only rows still held by this claim and not yet published are marked."""
    return OutboxEvent.objects.filter(seq__in=list(seqs), claim_id=claim_id, published_at__isnull=True).update(
        published_at=Now(), lease_until=None
    )


def outbox_release(*, claim_id: uuid.UUID, seqs: Iterable[int]) -> int:
    """Give rows whose publication failed back at once instead of waiting out the lease."""
    return OutboxEvent.objects.filter(seq__in=list(seqs), claim_id=claim_id, published_at__isnull=True).update(
        lease_until=None
    )


def outgoing(events: list[ClaimedEvent]) -> list[tuple[int, str, dict[str, Any]]]:
    """Each event to each of its groups, in seq order."""
    return [
        (event.seq, group, {"type": LAYER_EVENT, "event": event.envelope()})
        for event in events
        for group in event.groups()
    ]


@dataclass(frozen=True)
class CycleResult:
    claimed: int
    published: int
    failed: int


def outbox_relay_cycle(*, fanout: Fanout, run: Runner, path: str) -> CycleResult:
    """One claim, publish, mark. `run` drives the coroutine on the caller's event loop."""
    limit = settings.REALTIME_RELAY_BATCH
    lease_s = settings.REALTIME_RELAY_LEASE_S
    claim_id, events = outbox_claim(limit=limit, lease_s=lease_s)
    if not events:
        return CycleResult(0, 0, 0)
    delivered: dict[int, int] = run(fanout.send(outgoing(events), timeout_s=lease_s / 2))
    # Sent means: reached every group it has (an event with no audience is settled at once).
    sent = {e.seq for e in events if delivered.get(e.seq, 0) == len(e.groups())}
    marked = outbox_mark_published(claim_id=claim_id, seqs=sent)
    failed = [e.seq for e in events if e.seq not in sent]
    if failed:
        outbox_release(claim_id=claim_id, seqs=failed)
    if marked != len(sent):
        # Our lease ran out and another relay re-published some rows: clients drop the repeats.
        log.warning("outbox_lease_lost", claim=str(claim_id), sent=len(sent), marked=marked)
    now = timezone.now()
    for event in events:
        if event.seq in sent:
            OUTBOX_PUBLISH_DELAY.observe(max(0.0, (now - event.created_at).total_seconds()))
    OUTBOX_PUBLISHED.labels(path=path).inc(marked)
    return CycleResult(len(events), marked, len(failed))


def outbox_publish_pending(*, fanout: Fanout, run: Runner, path: str) -> int:
    """Cycle until nothing is left to claim (or a cycle fails); returns rows marked published."""
    total = 0
    while True:
        result = outbox_relay_cycle(fanout=fanout, run=run, path=path)
        total += result.published
        if result.failed or result.claimed < settings.REALTIME_RELAY_BATCH:
            return total


def outbox_sweep() -> int:
    """Publish every row the on-commit path missed; beat runs this every few seconds."""
    fanout = _fanout()
    loop = asyncio.new_event_loop()
    try:
        published = outbox_publish_pending(fanout=fanout, run=loop.run_until_complete, path="sweep")
    finally:
        loop.run_until_complete(fanout.close())
        loop.close()  # channels-redis closes this loop's pools with it
    OUTBOX_BACKLOG.set(OutboxEvent.objects.filter(published_at__isnull=True).count())
    if published:
        log.info("outbox_swept", published=published)
    return published


class _Relay:
    """This process's relay thread, started on first wake-up (again in a forked child)."""

    IDLE_S = 1.0
    BACKOFF_S = 1.0

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._stopping = False
                    self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
                    self._thread.start()
        self._wake.set()

    def drain(self, timeout_s: float = 2.0) -> bool:
        """Wait until no cycle runs and none is due; True if the relay got there in time."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._thread is None or not self._thread.is_alive():
                return True
            if self._idle.is_set() and not self._wake.is_set():
                return True
            time.sleep(0.01)
        return False

    def stop(self, timeout_s: float = 5.0) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stopping = True
        self._wake.set()
        thread.join(timeout_s)
        self._thread = None

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        fanout, config = _fanout(), _layer_config()
        try:
            while not self._stopping:
                if not self._wake.wait(self.IDLE_S):
                    # Idle: hold no database session (a test database must be droppable, and
                    # a quiet process should not pin a connection).
                    connection.close()
                    continue
                self._idle.clear()
                self._wake.clear()
                try:
                    if _layer_config() != config:  # the channel layer was reconfigured (tests)
                        loop.run_until_complete(fanout.close())
                        fanout, config = _fanout(), _layer_config()
                    if not self._stopping:
                        outbox_publish_pending(fanout=fanout, run=loop.run_until_complete, path="commit")
                except Exception:
                    # The thread must outlive any one failure (database restart, Redis down); the
                    # rows stay claimable and the sweeper or the next wake-up publishes them.
                    log.exception("outbox_relay_cycle_failed")
                    connection.close()
                    time.sleep(self.BACKOFF_S)
                finally:
                    self._idle.set()
        finally:
            connection.close()
            loop.run_until_complete(fanout.close())
            loop.close()


def _layer_config() -> str:
    return repr(settings.CHANNEL_LAYERS.get(DEFAULT_CHANNEL_LAYER))


def _fanout() -> Fanout:
    """A layer instance of the relay's own (its pools are not shared with consumers)."""
    return fanout_for(channel_layers.make_backend(DEFAULT_CHANNEL_LAYER), DEFAULT_CHANNEL_LAYER)


_relay = _Relay()
atexit.register(_relay.drain)


def relay_wake() -> None:
    """The outbox's after-commit hook: only sets an event; the relay thread does the I/O."""
    if settings.REALTIME_RELAY_ON_COMMIT:
        _relay.wake()


def relay_drain(timeout_s: float = 2.0) -> bool:
    return _relay.drain(timeout_s)


def relay_stop(timeout_s: float = 5.0) -> None:
    _relay.stop(timeout_s)
