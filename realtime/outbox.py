"""Write an outbox event in the caller's transaction.

This module is deliberately a leaf: every app may import it to report a change, and it imports
no app but its own model (and core's JSON writer). Publishing happens elsewhere, after commit.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from core.jsonenc import json_text
from realtime.models import OutboxEvent

EVENT_TYPES = frozenset(
    {
        "bet.placed",
        "bet.updated",
        "bet.settled",
        "selection.updated",
        "odds.updated",
        "cashout.offered",
        "cashout.success",
        "cashout.error",
        "balance.updated",
        "round.updated",
    }
)

# Called after commit when events were written; the realtime relay registers itself here.
_after_commit_hooks: list[Callable[[], None]] = []


def on_events_committed(hook: Callable[[], None]) -> None:
    if hook not in _after_commit_hooks:
        _after_commit_hooks.append(hook)


def _notify() -> None:
    for hook in _after_commit_hooks:
        hook()


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def new_event_ids(count: int) -> list[str]:
    """`count` ids like `new_event_id`'s (128 random bits each), from one read of the system's
    random source rather than one per event."""
    random = os.urandom(16 * count).hex()
    return [f"evt_{random[i : i + 32]}" for i in range(0, 32 * count, 32)]


def event_emit(*, type: str, data: dict[str, Any], user_id: int | None = None, topic: str = "") -> OutboxEvent:
    """Record one event; must run inside the transaction that makes the change it reports."""
    return events_emit([(type, data, user_id, topic)])[0]


def events_emit(events: list[tuple[str, dict[str, Any], int | None, str]]) -> list[OutboxEvent]:
    """Record many events at once (bulk settlement), inside the caller's transaction.

    One INSERT however many events there are, its rows in one JSON parameter: every bet writes
    its events here, and psycopg adapting five Python lists to arrays cost twice the rest.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("outbox events must be written inside the transaction of the change they report")
    if not events:
        return []
    now = timezone.now()
    encoded = events_encode(events)
    with connection.cursor() as cursor:
        cursor.execute(EVENTS_INSERT + " RETURNING seq", {"events": encoded, "now": now})
        seqs = [row[0] for row in cursor.fetchall()]
    events_written()
    stored = json.loads(encoded)  # the data as it was stored: Decimals and datetimes as the API renders them
    return [
        OutboxEvent(
            seq=seq,
            event_id=stored[i][0],
            type=events[i][0],
            user_id=events[i][2],
            topic=events[i][3],
            data=stored[i][2],
            created_at=now,
        )
        for i, seq in enumerate(seqs)
    ]


# The rows of `events_encode` (parameter `events`), stamped `now`, in their order. A writer that
# has a statement of its own to run in the same transaction may put this in it (as a CTE) instead
# of calling `events_emit`, and then calls `events_written()`.
EVENTS_INSERT = """
INSERT INTO realtime_outboxevent (event_id, type, user_id, topic, data, created_at)
SELECT r->>0, r->>1, (r->>3)::bigint, r->>4, r->2, %(now)s
FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS x(r, n)
ORDER BY n
"""


def events_encode(events: Sequence[tuple[str, dict[str, Any], int | None, str]]) -> str:
    """The `events` parameter of EVENTS_INSERT: each event checked and given its id, as one JSON
    text (data encoded as the API renders it)."""
    for type_, _data, _user_id, _topic in events:
        _type_check(type_)
    return json_text([[new_event_id(), *event] for event in events])


def _type_check(type_: str) -> None:
    if type_ not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type_!r}")


def events_written() -> None:
    """After EVENTS_INSERT ran in the current transaction: publish once it commits."""
    if _after_commit_hooks:
        transaction.on_commit(_notify)


def events_emit_many(events: Sequence[tuple[str, dict[str, Any], int | None, str]]) -> int:
    """`events_emit` for bulk writers (a settlement chunk of thousands of slips): one INSERT whose
    parameters travel as binary arrays, no model instances; returns the rows written. Inside the
    caller's transaction, like every event."""
    if not connection.in_atomic_block:
        raise RuntimeError("outbox events must be written inside the transaction of the change they report")
    if not events:
        return 0
    ids = new_event_ids(len(events))
    types, users, topics, datas = [], [], [], []
    for type_, data, user_id, topic in events:
        _type_check(type_)
        types.append(type_)
        users.append(user_id)
        topics.append(topic)
        datas.append(json_text(data))  # as `events_encode` writes it
    cursor = psycopg.Cursor(connection.connection)
    cursor.execute(
        """
        INSERT INTO realtime_outboxevent (event_id, type, user_id, topic, data, created_at)
        SELECT i, t, u, tp, d::jsonb, %s FROM unnest(%b::text[], %b::text[], %b::bigint[], %b::text[], %b::text[])
            AS v(i, t, u, tp, d)
        """,
        [timezone.now(), ids, types, users, topics, datas],
        # Planned for its real size each time: prepared, PostgreSQL would plan for arrays of ten.
        prepare=False,
    )
    events_written()
    return len(events)
