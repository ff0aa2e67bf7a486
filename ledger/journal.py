"""The SQL that writes journal entries: one round trip for a single entry, set-based for many.

Services call these with validated entries, inside an open transaction (the one-entry statement
may also run on its own in autocommit: it is atomic by itself, and refuses by raising, so nothing
it did stays); PostgreSQL's triggers check the result again. User accounts (wallets, receivables) are locked in id order before they
are moved, so two entries touching the same accounts in any order cannot deadlock.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

import psycopg
from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.types.numeric import Int8BinaryDumper

from core.errors import InsufficientFunds, ValidationFailed
from core.jsonenc import json_text

# The SQLSTATE `ledger_refuse` raises (migration 0006); its DETAIL says which account and why.
REFUSED = "TL001"

# The conditions a user account's new balance must meet; the CHECK constraints say the same.
_ALLOWED = """(a.kind <> 'wallet' OR a.balance + v.delta >= 0)
              AND (a.kind <> 'receivable' OR a.balance + v.delta <= 0)"""

# One statement writes one entry. `v` holds each account of the lines once, in id order, with
# its net movement (worked out by the caller); the user accounts among them that move are locked
# in that order and moved by the conditional UPDATE. `bad` names any account that is missing, in
# another currency than its lines, or a user account that should have moved and did not; the
# postings are written only when it is empty. A refused post calls `ledger_refuse_post`
# (ledger/0011), which raises with the report `_raise_for` reads.
#
# Every value is a scalar parameter of a fixed type, the lines and accounts in VALUES lists: one
# statement text per count of lines and accounts, whose plan PostgreSQL keeps per connection.
# (Arrays made the planner count their elements afresh on every call; a function returning their
# rows cost a sixth of the post.)
_POST_ONE = """
WITH tx AS (
    INSERT INTO ledger_transaction
        (idempotency_key, kind, reference, description, lines_digest, metadata, correlation_id, created_at, reverses_id)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id
),
v(id, delta, currency) AS (VALUES {accounts}),
locked AS (
    SELECT a.id, v.delta FROM v JOIN ledger_account a ON a.id = v.id
    WHERE a.user_id IS NOT NULL AND v.delta <> 0 AND EXISTS (SELECT 1 FROM tx)
    ORDER BY a.id FOR UPDATE OF a
),
upd AS (
    UPDATE ledger_account a SET balance = a.balance + v.delta
    FROM locked v
    WHERE a.id = v.id AND {allowed}
    RETURNING a.id
),
bad AS (
    SELECT 1 FROM v LEFT JOIN ledger_account a ON a.id = v.id
    WHERE EXISTS (SELECT 1 FROM tx)
      AND (a.id IS NULL OR a.currency <> v.currency
           OR (a.user_id IS NOT NULL AND v.delta <> 0 AND v.id NOT IN (SELECT id FROM upd)))
),
ins AS (
    INSERT INTO ledger_posting (transaction_id, account_id, amount, currency)
    SELECT tx.id, l.account_id, l.amount, l.currency
    FROM tx, (VALUES {lines}) AS l(account_id, amount, currency)
    WHERE NOT EXISTS (SELECT 1 FROM bad)
)
SELECT (SELECT id FROM tx),
       CASE WHEN NOT EXISTS (SELECT 1 FROM bad) THEN true ELSE ledger_refuse_post(
           ARRAY(SELECT id FROM v), ARRAY(SELECT delta FROM v), ARRAY(SELECT currency FROM v),
           ARRAY(SELECT id FROM upd)) END
"""


@functools.lru_cache(maxsize=64)
def _post_one_sql(lines: int, accounts: int) -> bytes:
    """The one-entry statement for this many lines and distinct accounts. Its parameters, in
    order: the transaction's nine values; each account's id, net delta and currency; each line's
    account, amount and currency. (A refusal's report reads the accounts back from `v`.)

    Bytes, the same object each time: psycopg looks a statement up by its bytes, and a str would
    be encoded and its two kilobytes hashed again on every post."""
    return _POST_ONE.format(
        allowed=_ALLOWED,
        accounts=", ".join(["(%s::bigint, %s::bigint, %s::text)"] * accounts),
        lines=", ".join(["(%s::bigint, %s::bigint, %s::text)"] * lines),
    ).encode()


class Row(NamedTuple):
    """What the service knows of an entry to write."""

    key: str
    kind: str
    reference: str
    description: str
    digest: str
    metadata: dict[str, Any]
    reverses_id: int | None
    lines: Sequence[tuple[int, int, str]]  # (account_id, amount, currency)


def post_cursor(db: BaseDatabaseWrapper) -> Any:
    """Django's cursor for `post_one` on `db`, kept on that connection while it stays open.

    A new cursor each time also meant new adapters: psycopg worked out again how to send every
    parameter and read every column, on every post (about a fifth of a transfer's Python time).
    The cursor is Django's wrapper (database errors come out as Django's, a broken transaction
    is refused); when queries are being logged (DEBUG, tests counting queries) a fresh one is
    made each time, so the log sees the post. Never closed by the caller."""
    if db.queries_logged:
        return _ints_as_bigint(db.cursor())
    db.close_if_health_check_failed()
    kept = getattr(db, "_ledger_post_cursor", None)
    if kept is not None and db.connection is not None and kept.cursor.connection is db.connection:
        return kept
    kept = _ints_as_bigint(db.cursor())
    db._ledger_post_cursor = kept  # type: ignore[attr-defined]
    return kept


def _ints_as_bigint(cursor: Any) -> Any:
    """psycopg sends a Python int as the smallest integer type that holds it, and a statement
    whose parameter types change is prepared again: on this cursor only, every int is a bigint."""
    cursor.cursor.adapters.register_dumper(int, Int8BinaryDumper)
    return cursor


def post_one(cursor: Any, row: Row, *, correlation_id: str, now: datetime) -> int | None:
    """Write one entry in one statement (on `post_cursor()`'s cursor, whose ints are bigints).
    Returns its id, or None when the key already exists.

    A refused entry fails the statement (`ledger_refuse`), so in a caller's transaction that
    transaction must roll back, as it does when the error leaves its `atomic` block."""
    net: dict[int, int] = {}
    wanted: dict[int, str] = {}
    for account_id, amount, currency in row.lines:
        net[account_id] = net.get(account_id, 0) + amount
        # An account named in two currencies is refused whichever is kept: by the statement, or
        # by the postings' check (ledger/0008).
        wanted[account_id] = min(currency, wanted.get(account_id, currency))
    params: list[Any] = [
        row.key,
        row.kind,
        row.reference,
        row.description,
        row.digest,
        json_text(row.metadata) if row.metadata else "{}",
        correlation_id,
        now,
        row.reverses_id,
    ]
    for account_id in sorted(net):  # id order: the order the accounts are locked in
        params += (account_id, net[account_id], wanted[account_id])
    for line in row.lines:
        params.extend(line)
    try:
        cursor.execute(_post_one_sql(len(row.lines), len(net)), params)
    except DatabaseError as exc:
        cause = exc.__cause__
        if isinstance(cause, psycopg.Error) and cause.sqlstate == REFUSED:
            _raise_for(json.loads(cause.diag.message_detail or "[]"))
        raise
    # psycopg's own fetchone: the answer is in, nothing can fail reading it (Django's wrapper would
    # build an error-translating function around it on every call).
    tx_id, _ok = cursor.cursor.fetchone()
    return None if tx_id is None else int(tx_id)


def _raise_for(report: list[list[Any]]) -> None:
    for account_id, kind, currency, wanted, user_id, delta, updated in report:
        if kind is None:
            raise ValidationFailed(f"Ledger account {account_id} does not exist.", code="unknown_account")
        if currency != wanted:
            raise ValidationFailed(
                f"Ledger account {account_id} holds {currency}, not {wanted}.", code="currency_mismatch"
            )
        if user_id is not None and delta != 0 and not updated:
            if kind == "wallet":
                raise InsufficientFunds(
                    "The wallet does not hold enough money.",
                    details={"account": account_id, "currency": currency, "required": -delta},
                )
            raise ValidationFailed(
                "A receivable cannot be paid off beyond what is owed.",
                code="receivable_overpaid",
                details={"account": account_id},
            )
    raise AssertionError(f"ledger post refused without a reason: {report}")  # pragma: no cover


def binary_cursor(cursor: Any) -> psycopg.Cursor[Any]:
    """A server-side-binding cursor on the same connection (so inside the same transaction) for
    statements that pass large arrays: as binary parameters (`%b`) they travel as they are, where
    Django's client-side binding quotes every element into the SQL text, five times slower for a
    settlement's 10,000 entries. Executed with `prepare=False`: a prepared statement gets a plan
    made for an array of ten elements, which for thousands can be quadratic (see
    `settlement.db.binary_cursor`)."""
    return psycopg.Cursor(cursor.cursor.connection)


def insert_many(cursor: Any, rows: Sequence[Row], *, correlation_id: str, now: datetime) -> dict[str, int]:
    """Insert transaction rows set-based; returns the ids of those whose key was new."""
    cursor = binary_cursor(cursor)
    cursor.execute(
        """
        INSERT INTO ledger_transaction
            (idempotency_key, kind, reference, description, lines_digest, metadata,
             correlation_id, created_at, reverses_id)
        SELECT k, kd, r, d, dg, m::jsonb, %s, %s, rv
        FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::bigint[])
            AS t(k, kd, r, d, dg, m, rv)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING id, idempotency_key
        """,
        [
            correlation_id,
            now,
            [r.key for r in rows],
            [r.kind for r in rows],
            [r.reference for r in rows],
            [r.description for r in rows],
            [r.digest for r in rows],
            [json_text(r.metadata) for r in rows],
            [r.reverses_id for r in rows],
        ],
        prepare=False,
    )
    return {key: tx_id for tx_id, key in cursor.fetchall()}


def existing_digests(cursor: Any, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
    cursor.execute(
        "SELECT idempotency_key, id, lines_digest FROM ledger_transaction WHERE idempotency_key = ANY(%s)", [list(keys)]
    )
    return {key: (tx_id, digest) for key, tx_id, digest in cursor.fetchall()}


def move_user_balances(cursor: Any, rows: Sequence[Row]) -> None:
    """Move every user account the rows touch, in one conditional UPDATE, locked in id order."""
    deltas: dict[int, int] = defaultdict(int)
    currencies: dict[int, str] = {}
    for row in rows:
        for account_id, amount, currency in row.lines:
            deltas[account_id] += amount
            currencies[account_id] = currency
    ids = sorted(deltas)
    cursor = binary_cursor(cursor)
    # `a.id = ANY(ids)` on every access keeps ledger_account read on its primary key (joined to
    # the unnested arrays alone, the planner hashes the whole table, every account of every user,
    # once per statement). Only the rows in error come back: in the common case, none.
    cursor.execute(
        f"""
        WITH v(id, delta, wanted) AS (SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::text[])),
        locked AS (
            SELECT a.id FROM ledger_account a
            WHERE a.id = ANY(%b::bigint[]) AND a.user_id IS NOT NULL
            ORDER BY a.id FOR UPDATE
        ),
        upd AS (
            UPDATE ledger_account a SET balance = a.balance + v.delta
            FROM v JOIN locked ON locked.id = v.id
            WHERE a.id = ANY(%b::bigint[]) AND a.id = v.id AND v.delta <> 0 AND {_ALLOWED}
            RETURNING a.id
        )
        SELECT v.id, a.kind, a.currency, v.wanted, a.user_id, v.delta, (v.id IN (SELECT id FROM upd))
        FROM v LEFT JOIN ledger_account a ON a.id = v.id AND a.id = ANY(%b::bigint[])
        WHERE a.id IS NULL OR a.currency <> v.wanted
           OR (a.user_id IS NOT NULL AND v.delta <> 0 AND v.id NOT IN (SELECT id FROM upd))
        ORDER BY v.id
        """,  # noqa: S608 - _ALLOWED is a constant
        [ids, [deltas[i] for i in ids], [currencies[i] for i in ids], ids, ids, ids],
        prepare=False,
    )
    bad = cursor.fetchall()
    if bad:
        _raise_for(bad)


def copy_postings(cursor: Any, rows: Sequence[Row], tx_ids: dict[str, int]) -> None:
    with cursor.cursor.copy("COPY ledger_posting (transaction_id, account_id, amount, currency) FROM STDIN") as copy:
        for row in rows:
            tx_id = tx_ids[row.key]
            for account_id, amount, currency in row.lines:
                copy.write_row((tx_id, account_id, amount, currency))
