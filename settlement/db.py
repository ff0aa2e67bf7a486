"""What settlement's set-based statements share."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from django.db import connection

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def binary_cursor() -> psycopg.Cursor[Any]:
    """A server-side-binding cursor on Django's connection (so inside its transaction), for
    statements that pass thousands of values as arrays: as binary parameters (`%b`) they travel as
    they are, where Django's client-side binding quotes every element into the SQL text, several
    times slower.

    Execute them with `prepare=False`. The connection prepares a statement it has run a few times,
    and PostgreSQL then plans a prepared statement once for any parameters: not knowing that an
    array holds 2,000 ids, it guesses ten, and picks plans (a nested loop over two unnested arrays)
    that took 130-330 ms for a chunk's balance update, against about 15 ms planned for its size."""
    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def micros_to_datetime(value: int | None) -> datetime | None:
    """Timestamps are read as whole microseconds since the epoch (`epoch_us(column)` in SQL): exact,
    and much cheaper to load by the thousand than timestamptz."""
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def epoch_us(column: str) -> str:
    return f"(extract(epoch from {column}) * 1000000)::bigint"
