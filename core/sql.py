"""Small helpers for hand-written SQL."""

from __future__ import annotations

from collections.abc import Iterable

BIGINT_MAX = 2**63 - 1


def bigint_array(ids: Iterable[int]) -> str:
    """A PostgreSQL array literal of whole numbers, for a parameter the statement casts with
    `::bigint[]`. psycopg adapts a Python list to an array at a cost per array (its element type
    worked out every time) that showed on every bet; a literal travels as one string."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"
