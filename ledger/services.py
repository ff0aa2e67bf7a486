"""Writes to the ledger. The ledger moves money between accounts for whoever asks; it knows
nothing of bets, rounds or providers.

Two ways in:
- `transaction_post(...)`: one balanced transaction in its own database transaction.
- `entry_post(entry)` / `entries_post(entries)`: inside the caller's transaction, so a bet slip
  and its stake (or a thousand settled slips and their payouts) commit together.

Every transaction has an idempotency key. Posting a key again with the same lines returns the
original; with other lines it is a `Conflict`. User accounts keep their balance on their row and
are changed by one conditional, set-based UPDATE, so no read-then-write can double spend; system
accounts are never locked (their balance is the sum of their postings).
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from core.errors import Conflict, ValidationFailed
from core.logging import current_correlation_id
from core.metrics import LEDGER_POST_SECONDS, LEDGER_TRANSACTIONS
from ledger import journal
from ledger.currencies import CURRENCIES, MAX_AMOUNT
from ledger.models import Account, Transaction

USER_KINDS = tuple(str(k) for k in Account.USER_KINDS)
# Lines per transaction: a single post sends each line as parameters of one statement
# (PostgreSQL takes at most 65,535), and no business fact needs more than a handful.
MAX_LINES = 1_000


class Line(NamedTuple):
    """A signed movement on one account: positive credits it, negative debits it. (A tuple: the
    journal writes it as it is, and a transfer makes several.)"""

    account_id: int
    amount: int
    currency: str


@dataclass(frozen=True)
class Entry:
    """A transaction to post: its key, what it is, and its balanced lines."""

    key: str
    kind: str
    lines: Sequence[Line]
    reference: str = ""
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    reverses_id: int | None = None


@dataclass
class PostResult:
    """What `entries_post` did: new transaction ids by key, and the keys that were replays."""

    created: dict[str, int] = field(default_factory=dict)
    replayed: dict[str, int] = field(default_factory=dict)

    def id_for(self, key: str) -> int:
        return self.created.get(key) or self.replayed[key]


# --- Accounts ---------------------------------------------------------------------------------


def _get_or_create_account(*, kind: str, currency: str, user_id: int | None) -> Account:
    if currency not in CURRENCIES:
        raise ValidationFailed(f"Unknown currency {currency!r}.", code="unknown_currency")
    # INSERT .. ON CONFLICT never races into an IntegrityError, inside or outside a transaction.
    conflict = (
        "(user_id, kind, currency) WHERE user_id IS NOT NULL" if user_id else "(kind, currency) WHERE user_id IS NULL"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO ledger_account (kind, currency, user_id, balance, created_at) "  # noqa: S608
            f"VALUES (%s, %s, %s, 0, now()) ON CONFLICT {conflict} DO NOTHING",
            [kind, currency, user_id],
        )
    if user_id is None:
        return Account.objects.get(kind=kind, currency=currency, user__isnull=True)
    return Account.objects.get(kind=kind, currency=currency, user_id=user_id)


def wallet_for(*, user_id: int, currency: str) -> Account:
    return _get_or_create_account(kind=Account.Kind.WALLET, currency=currency, user_id=user_id)


def receivable_for(*, user_id: int, currency: str) -> Account:
    return _get_or_create_account(kind=Account.Kind.RECEIVABLE, currency=currency, user_id=user_id)


def system_account(*, kind: Account.Kind | str, currency: str) -> Account:
    if kind in Account.USER_KINDS:
        raise ValueError(f"{kind} is a user account kind")
    return _get_or_create_account(kind=str(kind), currency=currency, user_id=None)


# --- Validation -------------------------------------------------------------------------------


def lines_digest(lines: Iterable[Line]) -> str:
    canonical = "|".join(sorted([f"{account_id}:{currency}:{amount}" for account_id, amount, currency in lines]))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _validate(key: str, lines: Sequence[Line]) -> None:
    if not key or len(key) > 200:
        raise ValidationFailed("A ledger transaction needs an idempotency key of 1 to 200 characters.")
    if len(lines) < 2:
        raise ValidationFailed("A ledger transaction needs at least two lines.", code="unbalanced_transaction")
    if len(lines) > MAX_LINES:
        raise ValidationFailed(f"A ledger transaction has at most {MAX_LINES} lines.", code="too_many_lines")
    totals: dict[str, int] = {}
    for account_id, amount, currency in lines:
        if type(account_id) is not int:  # not a bool, not a float, not a string of digits
            raise ValidationFailed("Ledger account ids are integers.", code="unknown_account")
        if type(amount) is not int or amount == 0:
            raise ValidationFailed("Ledger amounts are non-zero whole minor units.", code="invalid_amount")
        if not -MAX_AMOUNT <= amount <= MAX_AMOUNT:
            raise ValidationFailed("Ledger amount out of range.", code="invalid_amount")
        if currency not in CURRENCIES:
            raise ValidationFailed(f"Unknown currency {currency!r}.", code="unknown_currency")
        totals[currency] = totals.get(currency, 0) + amount
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise ValidationFailed(
            "The lines of a ledger transaction must sum to zero per currency.",
            code="unbalanced_transaction",
            details={"totals": unbalanced},
        )


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("this ledger helper must run inside the caller's transaction.atomic()")


# --- Posting ----------------------------------------------------------------------------------


def transaction_post(
    *,
    key: str,
    kind: str,
    lines: Sequence[Line],
    reference: str = "",
    description: str = "",
    metadata: dict[str, Any] | None = None,
) -> int:
    """Post one balanced transaction in its own database transaction; returns its id (the first
    one's, when the key was posted before with the same lines), as `entry_post` does."""
    _validate(key, lines)
    row = journal.Row(key, kind, reference, description, lines_digest(lines), metadata or {}, None, lines)
    # The connection itself, looked up once (each use of the `connection` proxy is a lookup).
    db = connections[DEFAULT_DB_ALIAS]
    if db.in_atomic_block:
        # Only a test's transaction gets here: `durable` refuses every other caller's.
        with transaction.atomic(durable=True):
            return _post_one(row, db)[0]
    # One entry is one statement, atomic on its own: in autocommit it needs no BEGIN and COMMIT
    # around it (two of the three round trips a transfer took).
    return _post_one(row, db)[0]


def entry_post(entry: Entry) -> int:
    """Post one entry inside the caller's transaction; returns the transaction id."""
    return entries_post([entry]).id_for(entry.key)


def entries_post(entries: Sequence[Entry]) -> PostResult:
    """Post entries inside the caller's transaction.

    One entry is written by one statement (transaction row, balance moves and postings
    together). Many are written set-based: one INSERT for the transactions, one conditional
    UPDATE for every user account touched, one COPY for the postings. Raises
    `InsufficientFunds` when any wallet would go below zero; the caller's transaction then
    rolls back, so nothing is posted.
    """
    _require_transaction()
    return _post(entries)


def _post(entries: Sequence[Entry]) -> PostResult:
    if not entries:
        return PostResult()
    if len(entries) == 1:
        entry = entries[0]
        _validate(entry.key, entry.lines)
        tx_id, created = _post_one(_row(entry, lines_digest(entry.lines)), connections[DEFAULT_DB_ALIAS])
        return PostResult(created={entry.key: tx_id}) if created else PostResult(replayed={entry.key: tx_id})
    started = time.perf_counter()
    rows: list[journal.Row] = []
    seen: set[str] = set()
    for entry in entries:
        _validate(entry.key, entry.lines)
        if entry.key in seen:
            raise ValidationFailed(f"Idempotency key {entry.key!r} appears twice in one batch.")
        seen.add(entry.key)
        rows.append(_row(entry, lines_digest(entry.lines)))

    now = timezone.now()
    cid = current_correlation_id() or ""
    result = PostResult()
    with connection.cursor() as cursor:
        result.created = journal.insert_many(cursor, rows, correlation_id=cid, now=now)
        fresh = [r for r in rows if r.key in result.created]
        if fresh:
            journal.move_user_balances(cursor, fresh)
            journal.copy_postings(cursor, fresh, result.created)
        _replays(cursor, [r for r in rows if r.key not in result.created], result)

    # One increment per kind: a labelled counter takes a lock on every call.
    for kind, count in Counter(row.kind for row in rows if row.key in result.created).items():
        _posted(kind).inc(count)
    _BULK_SECONDS.observe(time.perf_counter() - started)
    return result


def _post_one(row: journal.Row, db: BaseDatabaseWrapper) -> tuple[int, bool]:
    """Write one validated entry in one statement (see `journal.post_one`); returns its id and
    whether it is new (False: the key's earlier transaction, with the same lines)."""
    started = time.perf_counter()
    tx_id = journal.post_one(
        journal.post_cursor(db), row, correlation_id=current_correlation_id() or "", now=timezone.now()
    )
    created = tx_id is not None
    if tx_id is None:
        replay = PostResult()
        with db.cursor() as cursor:
            _replays(cursor, [row], replay)
        tx_id = replay.replayed[row.key]
    else:
        _posted(row.kind).inc()
    _SINGLE_SECONDS.observe(time.perf_counter() - started)
    return tx_id, created


def _row(entry: Entry, digest: str) -> journal.Row:
    return journal.Row(
        key=entry.key,
        kind=entry.kind,
        reference=entry.reference,
        description=entry.description,
        digest=digest,
        metadata=entry.metadata,
        reverses_id=entry.reverses_id,
        lines=entry.lines,
    )


def _replays(cursor: Any, rows: Sequence[journal.Row], result: PostResult) -> None:
    """Rows whose key was taken: the same lines are a replay, other lines a conflict."""
    if not rows:
        return
    existing = journal.existing_digests(cursor, [r.key for r in rows])
    for row in rows:
        tx_id, digest = existing[row.key]
        if digest != row.digest:
            raise Conflict(
                f"Ledger key {row.key!r} was already used for a transaction with other lines.",
                code="idempotency_key_mismatch",
                details={"key": row.key, "transaction": tx_id},
            )
        result.replayed[row.key] = tx_id


# The metrics' labelled children, looked up once (`labels()` takes a lock and builds a key).
_SINGLE_SECONDS = LEDGER_POST_SECONDS.labels("single")
_BULK_SECONDS = LEDGER_POST_SECONDS.labels("bulk")


@functools.cache
def _posted(kind: str) -> Any:
    return LEDGER_TRANSACTIONS.labels(kind)


# --- Receivables and reversals ----------------------------------------------------------------


def user_lines(*, user_id: int, currency: str, delta: int) -> list[Line]:
    """The user's side of a movement of `delta`, honouring what they owe.

    A credit pays off the user's receivable first and lands in the wallet after; a debit takes
    the wallet down to zero at most and books the rest on the receivable (a claw-back). The
    counterpart lines are the caller's. Runs inside the caller's transaction and locks the
    user's wallet and receivable (in id order, so concurrent calls cannot deadlock).
    """
    _require_transaction()
    wallet = wallet_for(user_id=user_id, currency=currency)
    receivable = receivable_for(user_id=user_id, currency=currency)
    locked = {
        a.pk: a.balance
        for a in Account.objects.select_for_update().filter(pk__in=[wallet.pk, receivable.pk]).order_by("pk")
    }
    owed = -locked[receivable.pk]
    lines: list[Line] = []
    if delta > 0:
        to_debt = min(owed, delta)
        if to_debt:
            lines.append(Line(receivable.pk, to_debt, currency))
        if delta - to_debt:
            lines.append(Line(wallet.pk, delta - to_debt, currency))
    elif delta < 0:
        from_wallet = min(locked[wallet.pk], -delta)
        if from_wallet:
            lines.append(Line(wallet.pk, -from_wallet, currency))
        if -delta - from_wallet:
            lines.append(Line(receivable.pk, -(-delta - from_wallet), currency))
    return lines


def credit_lines(*, user_id: int, currency: str, amount: int, source_account_id: int) -> list[Line]:
    """Lines that credit a user `amount` from a source account, paying their debt first."""
    return [Line(source_account_id, -amount, currency), *user_lines(user_id=user_id, currency=currency, delta=amount)]


def transaction_reverse(*, original_id: int, reason: str, key: str | None = None) -> Transaction:
    """Reverse a transaction with one that points at it (see `reversal_post`)."""
    with transaction.atomic(durable=True):
        tx_id = reversal_post(original_id=original_id, reason=reason, key=key)
    return Transaction.objects.get(pk=tx_id)


def reversal_post(*, original_id: int, reason: str, key: str | None = None) -> int:
    """Post the reversal of a transaction inside the caller's transaction; returns its id.

    System accounts get the opposite of their original postings. A user's net movement is
    reversed through `user_lines`: taking back a credit the wallet has since spent takes the
    wallet to zero and books the rest on the receivable. Reversing twice is refused; the same
    reversal key again returns the first reversal.
    """
    _require_transaction()
    original = Transaction.objects.get(pk=original_id)
    if original.kind == "reversal":
        raise Conflict("A reversal is not reversed; post a new transaction instead.", code="reversal_of_reversal")
    reversal_key = key or f"{original.idempotency_key}:reverse"
    existing = Transaction.objects.filter(reverses_id=original.pk).values_list("pk", "idempotency_key").first()
    if existing is not None:
        if existing[1] != reversal_key:
            raise Conflict("This transaction has already been reversed.", code="already_reversed")
        return int(existing[0])

    lines: list[Line] = []
    user_deltas: dict[tuple[int, str], int] = defaultdict(int)
    for posting in original.postings.select_related("account").order_by("account_id"):
        account = posting.account
        if account.user_id is not None:
            user_deltas[(account.user_id, posting.currency)] -= posting.amount
        else:
            lines.append(Line(account.pk, -posting.amount, posting.currency))
    for (user_id, currency), delta in sorted(user_deltas.items()):
        lines.extend(user_lines(user_id=user_id, currency=currency, delta=delta))
    entry = Entry(
        key=reversal_key,
        kind="reversal",
        lines=lines,
        reference=original.reference,
        description=reason[:255],
        metadata={"reverses": original.pk, "reason": reason},
        reverses_id=original.pk,
    )
    return entry_post(entry)


# --- Deposits ---------------------------------------------------------------------------------

CLEARING_BY_RAIL = {
    "bank": Account.Kind.BANK_CLEARING,
    "topup": Account.Kind.TOPUP_CLEARING,
    "payout": Account.Kind.PAYOUT_CLEARING,
    "chain": Account.Kind.CHAIN_CLEARING,
}


def deposit_post(*, user_id: int, currency: str, amount: int, provider: str, reference: str, rail: str = "bank") -> int:
    """Credit money that arrived from outside, inside the caller's transaction.

    Keyed `deposit:<provider>:<reference>`, so a provider's repeated notification credits once.
    Pays off a receivable first and tells the user their balance moved.
    """
    from realtime.outbox import event_emit

    clearing = system_account(kind=CLEARING_BY_RAIL[rail], currency=currency)
    key = f"deposit:{provider}:{reference}"
    lines = credit_lines(user_id=user_id, currency=currency, amount=amount, source_account_id=clearing.pk)
    result = entries_post(
        [Entry(key=key, kind="deposit", lines=lines, reference=reference, metadata={"provider": provider})]
    )
    tx_id = result.id_for(key)
    if key in result.created:
        event_emit(
            type="balance.updated",
            user_id=user_id,
            data={"currency": currency, "reason": "deposit", "transaction": tx_id, "amount": amount},
        )
    return tx_id


def deposit_record(*, user_id: int, currency: str, amount: int, provider: str, reference: str) -> Transaction:
    """A deposit in its own transaction (demo tools, operators)."""
    with transaction.atomic(durable=True):
        tx_id = deposit_post(user_id=user_id, currency=currency, amount=amount, provider=provider, reference=reference)
    return Transaction.objects.get(pk=tx_id)
