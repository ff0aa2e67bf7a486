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

import hashlib
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from psycopg.types.json import Jsonb

from core.errors import Conflict, InsufficientFunds, ValidationFailed
from core.logging import current_correlation_id
from core.metrics import LEDGER_POST_SECONDS, LEDGER_TRANSACTIONS
from ledger.currencies import CURRENCIES, MAX_AMOUNT
from ledger.models import Account, Transaction

USER_KINDS = tuple(str(k) for k in Account.USER_KINDS)


@dataclass(frozen=True)
class Line:
    """A signed movement on one account: positive credits it, negative debits it."""

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
    canonical = "|".join(sorted(f"{ln.account_id}:{ln.currency}:{ln.amount}" for ln in lines))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _validate(entry: Entry) -> None:
    if not entry.key or len(entry.key) > 200:
        raise ValidationFailed("A ledger transaction needs an idempotency key of 1 to 200 characters.")
    if len(entry.lines) < 2:
        raise ValidationFailed("A ledger transaction needs at least two lines.", code="unbalanced_transaction")
    totals: dict[str, int] = defaultdict(int)
    for line in entry.lines:
        if isinstance(line.amount, bool) or not isinstance(line.amount, int) or line.amount == 0:
            raise ValidationFailed("Ledger amounts are non-zero whole minor units.", code="invalid_amount")
        if abs(line.amount) > MAX_AMOUNT:
            raise ValidationFailed("Ledger amount out of range.", code="invalid_amount")
        if line.currency not in CURRENCIES:
            raise ValidationFailed(f"Unknown currency {line.currency!r}.", code="unknown_currency")
        totals[line.currency] += line.amount
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
) -> Transaction:
    """Post one balanced transaction in its own database transaction and return it."""
    entry = Entry(
        key=key, kind=kind, lines=lines, reference=reference, description=description, metadata=metadata or {}
    )
    with transaction.atomic(durable=True):
        result = entries_post([entry])
    return Transaction.objects.get(pk=result.id_for(key))


def entry_post(entry: Entry) -> int:
    """Post one entry inside the caller's transaction; returns the transaction id."""
    return entries_post([entry]).id_for(entry.key)


def entries_post(entries: Sequence[Entry]) -> PostResult:
    """Post many entries inside the caller's transaction, set-based.

    One INSERT for the transactions, one conditional UPDATE for every user account touched,
    one COPY for the postings. Raises `InsufficientFunds` (and posts nothing, the caller's
    transaction being rolled back) when any wallet would go below zero.
    """
    _require_transaction()
    if not entries:
        return PostResult()
    started = time.perf_counter()
    digests: dict[str, str] = {}
    for entry in entries:
        _validate(entry)
        if entry.key in digests:
            raise ValidationFailed(f"Idempotency key {entry.key!r} appears twice in one batch.")
        digests[entry.key] = lines_digest(entry.lines)

    result = PostResult()
    now = timezone.now()
    cid = current_correlation_id() or ""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO ledger_transaction
                (idempotency_key, kind, reference, description, lines_digest, metadata,
                 correlation_id, created_at, reverses_id)
            SELECT k, kd, r, d, dg, m, %s, %s, rv
            FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::jsonb[], %s::bigint[])
                AS t(k, kd, r, d, dg, m, rv)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id, idempotency_key
            """,
            [
                cid,
                now,
                [e.key for e in entries],
                [e.kind for e in entries],
                [e.reference for e in entries],
                [e.description for e in entries],
                [digests[e.key] for e in entries],
                [Jsonb(e.metadata) for e in entries],
                [e.reverses_id for e in entries],
            ],
        )
        result.created = {key: tx_id for tx_id, key in cursor.fetchall()}

        missing = [e.key for e in entries if e.key not in result.created]
        if missing:
            cursor.execute(
                "SELECT idempotency_key, id, lines_digest FROM ledger_transaction WHERE idempotency_key = ANY(%s)",
                [missing],
            )
            for key, tx_id, digest in cursor.fetchall():
                if digest != digests[key]:
                    raise Conflict(
                        f"Ledger key {key!r} was already used for a transaction with other lines.",
                        code="idempotency_key_mismatch",
                        details={"key": key, "transaction": tx_id},
                    )
                result.replayed[key] = tx_id

        fresh = [e for e in entries if e.key in result.created]
        if fresh:
            _apply_user_balances(cursor, fresh)
            _copy_postings(cursor, fresh, result.created)

    for e in fresh:
        LEDGER_TRANSACTIONS.labels(e.kind).inc()
    LEDGER_POST_SECONDS.labels("bulk" if len(entries) > 1 else "single").observe(time.perf_counter() - started)
    return result


def _apply_user_balances(cursor: Any, entries: Sequence[Entry]) -> None:
    """Move the stored balance of every user account touched, in one conditional UPDATE.

    Rows are locked in id order (the UPDATE joins a sorted list), so two batches touching the
    same wallets cannot deadlock. The outer SELECT reports every account with whether it was
    updated: a user account that was not is one that would have left its allowed range.
    """
    deltas: dict[int, int] = defaultdict(int)
    currencies: dict[int, str] = {}
    for entry in entries:
        for line in entry.lines:
            deltas[line.account_id] += line.amount
            currencies[line.account_id] = line.currency
    ids = sorted(deltas)
    cursor.execute(
        """
        WITH v(id, delta) AS (SELECT * FROM unnest(%s::bigint[], %s::bigint[])),
        upd AS (
            UPDATE ledger_account a SET balance = a.balance + v.delta
            FROM v
            WHERE a.id = v.id AND a.user_id IS NOT NULL AND v.delta <> 0
              AND (a.kind <> 'wallet' OR a.balance + v.delta >= 0)
              AND (a.kind <> 'receivable' OR a.balance + v.delta <= 0)
            RETURNING a.id
        )
        SELECT v.id, a.kind, a.currency, a.user_id, a.balance, v.delta, (v.id IN (SELECT id FROM upd))
        FROM v LEFT JOIN ledger_account a ON a.id = v.id
        ORDER BY v.id
        """,
        [ids, [deltas[i] for i in ids]],
    )
    for account_id, kind, currency, user_id, _balance, delta, updated in cursor.fetchall():
        if kind is None:
            raise ValidationFailed(f"Ledger account {account_id} does not exist.", code="unknown_account")
        if currency != currencies[account_id]:
            raise ValidationFailed(
                f"Ledger account {account_id} holds {currency}, not {currencies[account_id]}.", code="currency_mismatch"
            )
        if user_id is not None and delta != 0 and not updated:
            if kind == Account.Kind.WALLET:
                raise InsufficientFunds(
                    "The wallet does not hold enough money.",
                    details={"account": account_id, "currency": currency, "required": -delta},
                )
            raise ValidationFailed(
                "A receivable cannot be paid off beyond what is owed.",
                code="receivable_overpaid",
                details={"account": account_id},
            )


def _copy_postings(cursor: Any, entries: Sequence[Entry], tx_ids: dict[str, int]) -> None:
    with cursor.cursor.copy("COPY ledger_posting (transaction_id, account_id, amount, currency) FROM STDIN") as copy:
        for entry in entries:
            tx_id = tx_ids[entry.key]
            for line in entry.lines:
                copy.write_row((tx_id, line.account_id, line.amount, line.currency))


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
