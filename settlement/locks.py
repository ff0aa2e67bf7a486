"""The PostgreSQL advisory lock that serialises the settlement of one event.

A transaction-level lock (`pg_advisory_xact_lock`): taken at the start of every transaction that
grades an event or settles a chunk of its slips, released by the commit or rollback, and by the
server when a killed worker's connection drops, so a crash never leaves an event locked. Two
workers, the cron endpoint and a webhook racing on one event take turns chunk by chunk; each
chunk re-reads its slips under the lock and moves them by compare-and-set, and the unique ledger
key `bet:settle:<slip>:v<n>` is the last line of defence.
"""

from __future__ import annotations

from django.db import connection

# One 64-bit key space for every advisory lock of the database: the high bits name the owner.
_EVENT_NAMESPACE = 0x5E77 << 48


def event_lock(event_id: int) -> None:
    """Wait for and hold the event's settlement lock until the current transaction ends."""
    if not connection.in_atomic_block:
        raise RuntimeError("the event lock is transaction-scoped: take it inside transaction.atomic()")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_EVENT_NAMESPACE | event_id])
