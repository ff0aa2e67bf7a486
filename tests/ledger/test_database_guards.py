"""PostgreSQL enforces the ledger's invariants whatever the code does."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from ledger.models import Account, Posting, Transaction
from ledger.services import wallet_for

pytestmark = pytest.mark.django_db(transaction=True)


def _raw(sql: str, params: list[Any] | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params or [])


def _new_transaction(cursor: Any, key: str) -> int:
    cursor.execute(
        "INSERT INTO ledger_transaction (idempotency_key, kind, reference, description, lines_digest, metadata,"
        " correlation_id, created_at) VALUES (%s, 'raw', '', '', '', '{}', '', now()) RETURNING id",
        [key],
    )
    return int(cursor.fetchone()[0])


def test_updating_a_posting_fails(make_user: Any, fund: Any) -> None:
    fund(make_user(), 100)
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("UPDATE ledger_posting SET amount = amount * 2")
    assert sum(Posting.objects.values_list("amount", flat=True)) == 0


def test_deleting_postings_or_transactions_fails(make_user: Any, fund: Any) -> None:
    fund(make_user(), 100)
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("DELETE FROM ledger_posting")
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("DELETE FROM ledger_transaction")
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("UPDATE ledger_transaction SET kind = 'other'")
    assert Transaction.objects.count() == 1
    assert Posting.objects.count() == 2


def test_an_unbalanced_insert_fails(make_user: Any) -> None:
    wallet = wallet_for(user_id=make_user().pk, currency="NGN")
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic(), connection.cursor() as cursor:
        tx_id = _new_transaction(cursor, "raw:unbalanced")
        cursor.execute(
            "INSERT INTO ledger_posting (transaction_id, account_id, amount, currency) VALUES (%s, %s, 5, 'NGN')",
            [tx_id, wallet.pk],
        )
    assert not Transaction.objects.filter(idempotency_key="raw:unbalanced").exists()


def test_postings_spread_over_statements_must_still_balance_at_commit(make_user: Any) -> None:
    """Each statement balances per transaction; a transaction with no lines fails at commit."""
    with pytest.raises(IntegrityError, match="at least two"), transaction.atomic(), connection.cursor() as cursor:
        _new_transaction(cursor, "raw:empty")
    assert not Transaction.objects.filter(idempotency_key="raw:empty").exists()


def test_a_posting_needs_a_real_transaction_and_account(make_user: Any) -> None:
    wallet = wallet_for(user_id=make_user().pk, currency="NGN")
    with pytest.raises(IntegrityError, match="does not exist"):
        _raw(
            "INSERT INTO ledger_posting (transaction_id, account_id, amount, currency)"
            " VALUES (987654321, %s, 5, 'NGN'), (987654321, %s, -5, 'NGN')",
            [wallet.pk, wallet.pk],
        )
    with pytest.raises(IntegrityError, match="no such account"), transaction.atomic(), connection.cursor() as cursor:
        tx_id = _new_transaction(cursor, "raw:ghost-account")
        cursor.execute(
            "INSERT INTO ledger_posting (transaction_id, account_id, amount, currency)"
            " VALUES (%s, %s, 5, 'NGN'), (%s, 987654321, -5, 'NGN')",
            [tx_id, wallet.pk, tx_id],
        )


def test_a_wallet_cannot_go_below_zero_even_by_hand(make_user: Any) -> None:
    wallet = wallet_for(user_id=make_user().pk, currency="NGN")
    with pytest.raises(IntegrityError, match="wallet_balance_non_negative"):
        _raw("UPDATE ledger_account SET balance = -1 WHERE id = %s", [wallet.pk])
    assert Account.objects.get(pk=wallet.pk).balance == 0


def test_one_transaction_per_idempotency_key(make_user: Any, fund: Any) -> None:
    fund(make_user(), 100, reference="once")
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        _new_transaction(cursor, "deposit:test:once")


def test_a_batch_with_one_transaction_without_postings_fails_at_commit(make_user: Any, fund: Any) -> None:
    """The commit-time check runs once per INSERT statement, over every transaction it wrote."""
    wallet = wallet_for(user_id=make_user().pk, currency="NGN")
    other = wallet_for(user_id=make_user().pk, currency="NGN")
    with pytest.raises(IntegrityError, match=r"\(raw:batch:2\) has 0 posting"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO ledger_transaction (idempotency_key, kind, reference, description, lines_digest, metadata,"
                " correlation_id, created_at) SELECT 'raw:batch:' || n, 'raw', '', '', '', '{}', '', now()"
                " FROM generate_series(1, 3) n ORDER BY n RETURNING id"
            )
            first, _, third = (row[0] for row in cursor.fetchall())
            cursor.execute(
                "INSERT INTO ledger_posting (transaction_id, account_id, amount, currency)"
                " VALUES (%s, %s, 5, 'NGN'), (%s, %s, -5, 'NGN'), (%s, %s, 7, 'NGN'), (%s, %s, -7, 'NGN')",
                [first, wallet.pk, first, other.pk, third, wallet.pk, third, other.pk],
            )
    assert not Transaction.objects.filter(idempotency_key__startswith="raw:batch:").exists()


def test_a_bulk_post_leaves_no_pending_check_behind(make_user: Any, fund: Any) -> None:
    from ledger.services import Entry, Line, entries_post

    alice, bob = make_user(), make_user()
    fund(alice, 1_000)
    a, b = wallet_for(user_id=alice.pk, currency="NGN").pk, wallet_for(user_id=bob.pk, currency="NGN").pk
    with transaction.atomic():
        posted = entries_post(
            [
                Entry(key=f"raw:bulk:{n}", kind="transfer", lines=[Line(a, -10, "NGN"), Line(b, 10, "NGN")])
                for n in range(5)
            ]
        )
    assert len(posted.created) == 5
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM ledger_unchecked_batch")
        assert cursor.fetchone()[0] == 0
    assert Account.objects.get(pk=b).balance == 50
