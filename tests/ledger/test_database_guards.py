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
