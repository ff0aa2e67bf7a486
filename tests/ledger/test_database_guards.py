"""PostgreSQL enforces the ledger's invariants whatever the code does."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from ledger.models import Account, Posting, Transaction
from ledger.services import receivable_for, system_account, wallet_for

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
    with pytest.raises(IntegrityError, match="account_kind_owner_balance"):
        _raw("UPDATE ledger_account SET balance = -1 WHERE id = %s", [wallet.pk])
    assert Account.objects.get(pk=wallet.pk).balance == 0


@pytest.mark.parametrize(
    ("account", "sql"),
    [
        ("receivable", "UPDATE ledger_account SET balance = 1 WHERE id = %s"),
        ("system", "UPDATE ledger_account SET balance = 5 WHERE id = %s"),
        ("wallet", "UPDATE ledger_account SET user_id = NULL WHERE id = %s"),
        ("system", "UPDATE ledger_account SET user_id = (SELECT min(id) FROM users_user) WHERE id = %s"),
    ],
)
def test_the_account_rule_holds_by_hand(make_user: Any, account: str, sql: str) -> None:
    """A receivable never goes above zero, a system account keeps no balance on its row and has
    no owner, a wallet always has one."""
    user = make_user().pk
    row = {
        "receivable": lambda: receivable_for(user_id=user, currency="NGN"),
        "system": lambda: system_account(kind=Account.Kind.HOUSE, currency="NGN"),
        "wallet": lambda: wallet_for(user_id=user, currency="NGN"),
    }[account]()
    with pytest.raises(IntegrityError, match="account_kind_owner_balance"):
        _raw(sql, [row.pk])
    fresh = Account.objects.get(pk=row.pk)
    assert (fresh.balance, fresh.user_id) == (row.balance, row.user_id)


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


# --- Where the balance check runs -------------------------------------------------------------
# A transaction written in the same statement as its postings is checked as that statement ends;
# one whose postings come in later statements is noted in ledger_unchecked_batch and checked at
# commit. Which one applies is decided by what the database holds, never by the caller.

_TX_WITH_POSTINGS = """
WITH tx AS (
    INSERT INTO ledger_transaction (idempotency_key, kind, reference, description, lines_digest, metadata,
                                    correlation_id, created_at)
    VALUES (%s, 'raw', '', '', '', '{}', '', now()) RETURNING id
)
INSERT INTO ledger_posting (transaction_id, account_id, amount, currency)
SELECT tx.id, l.account_id, l.amount, l.currency FROM tx,
    unnest(%s::bigint[], %s::bigint[], %s::text[]) AS l(account_id, amount, currency)
"""


def _with_postings(cursor: Any, key: str, lines: list[tuple[int, int, str]]) -> None:
    cursor.execute(
        _TX_WITH_POSTINGS, [key, [a for a, _, _ in lines], [n for _, n, _ in lines], [c for _, _, c in lines]]
    )


def _unchecked(cursor: Any) -> int:
    cursor.execute("SELECT count(*) FROM ledger_unchecked_batch")
    return int(cursor.fetchone()[0])


def _without_posting_checks(cursor: Any) -> None:
    """Switch the posting statement check off for this transaction only (ALTER TABLE is rolled
    back with it), to show the transaction check refuses on its own."""
    cursor.execute("ALTER TABLE ledger_posting DISABLE TRIGGER ledger_posting_checks")


def test_a_transaction_written_with_its_postings_is_checked_at_once(make_user: Any) -> None:
    a = wallet_for(user_id=make_user().pk, currency="NGN").pk
    b = wallet_for(user_id=make_user().pk, currency="NGN").pk
    with transaction.atomic(), connection.cursor() as cursor:
        _with_postings(cursor, "raw:together", [(a, -5, "NGN"), (b, 5, "NGN")])
        assert _unchecked(cursor) == 0  # nothing left for commit
        _new_transaction(cursor, "raw:apart")
        assert _unchecked(cursor) == 1  # its postings come later: checked at commit
        cursor.execute(
            "INSERT INTO ledger_posting (transaction_id, account_id, amount, currency)"
            " SELECT id, %s, -7, 'NGN' FROM ledger_transaction WHERE idempotency_key = 'raw:apart'"
            " UNION ALL SELECT id, %s, 7, 'NGN' FROM ledger_transaction WHERE idempotency_key = 'raw:apart'",
            [a, b],
        )
    assert Transaction.objects.filter(idempotency_key__in=["raw:together", "raw:apart"]).count() == 2
    with connection.cursor() as cursor:
        assert _unchecked(cursor) == 0


def test_a_transaction_balanced_in_two_currencies_passes_the_statement_check(make_user: Any) -> None:
    user = make_user().pk
    ngn, usd = wallet_for(user_id=user, currency="NGN").pk, wallet_for(user_id=user, currency="USD").pk
    other = make_user().pk
    ngn2, usd2 = wallet_for(user_id=other, currency="NGN").pk, wallet_for(user_id=other, currency="USD").pk
    with transaction.atomic(), connection.cursor() as cursor:
        _with_postings(
            cursor, "raw:two-currencies", [(ngn, -5, "NGN"), (ngn2, 5, "NGN"), (usd, 3, "USD"), (usd2, -3, "USD")]
        )
    assert Posting.objects.filter(transaction__idempotency_key="raw:two-currencies").count() == 4


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ([("a", 5, "NGN")], "has 1 posting"),
        ([("a", 5, "NGN"), ("b", -4, "NGN")], "unbalanced ledger transaction .*NGN 1"),
        ([("a", 5, "NGN"), ("b", -5, "USD")], "unbalanced ledger transaction .*NGN 5"),
    ],
)
def test_the_statement_check_refuses_on_its_own(make_user: Any, lines: list[tuple[str, int, str]], error: str) -> None:
    user = make_user().pk
    ids = {"a": wallet_for(user_id=user, currency="NGN").pk, "b": wallet_for(user_id=make_user().pk, currency="NGN").pk}
    if any(c == "USD" for _, _, c in lines):
        ids["b"] = wallet_for(user_id=user, currency="USD").pk
    with pytest.raises(IntegrityError, match=error), transaction.atomic(), connection.cursor() as cursor:
        _without_posting_checks(cursor)
        _with_postings(cursor, "raw:statement-check", [(ids[n], amount, c) for n, amount, c in lines])
    assert not Transaction.objects.filter(idempotency_key="raw:statement-check").exists()


def test_the_commit_check_refuses_on_its_own(make_user: Any) -> None:
    a = wallet_for(user_id=make_user().pk, currency="NGN").pk
    b = wallet_for(user_id=make_user().pk, currency="NGN").pk
    with pytest.raises(IntegrityError, match="unbalanced ledger transaction .*NGN 1"):
        with transaction.atomic(), connection.cursor() as cursor:
            _without_posting_checks(cursor)
            tx_id = _new_transaction(cursor, "raw:commit-check")
            cursor.execute(
                "INSERT INTO ledger_posting (transaction_id, account_id, amount, currency)"
                " VALUES (%s, %s, 5, 'NGN'), (%s, %s, -4, 'NGN')",
                [tx_id, a, tx_id, b],
            )
    assert not Transaction.objects.filter(idempotency_key="raw:commit-check").exists()


def test_postings_added_later_to_a_checked_transaction_must_balance(make_user: Any) -> None:
    """Checked at its statement's end, a transaction stays balanced: every later INSERT of
    postings must balance per transaction on its own."""
    a = wallet_for(user_id=make_user().pk, currency="NGN").pk
    b = wallet_for(user_id=make_user().pk, currency="NGN").pk
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic(), connection.cursor() as cursor:
        _with_postings(cursor, "raw:topped-up", [(a, -5, "NGN"), (b, 5, "NGN")])
        cursor.execute(
            "INSERT INTO ledger_posting (transaction_id, account_id, amount, currency)"
            " SELECT id, %s, 9, 'NGN' FROM ledger_transaction WHERE idempotency_key = 'raw:topped-up'",
            [a],
        )
    assert not Transaction.objects.filter(idempotency_key="raw:topped-up").exists()


def test_a_single_post_leaves_nothing_for_commit(make_user: Any, fund: Any) -> None:
    from ledger.services import Entry, Line, entry_post

    alice, bob = make_user(), make_user()
    fund(alice, 100)
    a, b = wallet_for(user_id=alice.pk, currency="NGN").pk, wallet_for(user_id=bob.pk, currency="NGN").pk
    with transaction.atomic(), connection.cursor() as cursor:
        entry_post(Entry(key="raw:single", kind="transfer", lines=[Line(a, -10, "NGN"), Line(b, 10, "NGN")]))
        assert _unchecked(cursor) == 0
    assert Account.objects.get(pk=b).balance == 10


def test_a_transaction_is_reversed_once_even_by_hand(make_user: Any, fund: Any) -> None:
    from ledger.services import transaction_reverse

    deposit = fund(make_user(), 100)
    transaction_reverse(original_id=deposit, reason="wrong user")
    with pytest.raises(IntegrityError, match="transaction_reversed_once"):
        _raw(
            "INSERT INTO ledger_transaction (idempotency_key, kind, reference, description, lines_digest, metadata,"
            " correlation_id, created_at, reverses_id) VALUES ('raw:again', 'reversal', '', '', '', '{}', '', now(), %s)",
            [deposit],
        )


def test_the_kept_post_cursor_follows_the_connection_and_the_query_log(make_user: Any, fund: Any) -> None:
    from django.test.utils import CaptureQueriesContext

    from ledger.services import Line, transaction_post

    alice, bob = make_user(), make_user()
    fund(alice, 100)
    a, b = wallet_for(user_id=alice.pk, currency="NGN").pk, wallet_for(user_id=bob.pk, currency="NGN").pk
    transaction_post(key="raw:kept:1", kind="transfer", lines=[Line(a, -1, "NGN"), Line(b, 1, "NGN")])
    connection.close()  # the kept cursor belonged to the connection just closed
    transaction_post(key="raw:kept:2", kind="transfer", lines=[Line(a, -1, "NGN"), Line(b, 1, "NGN")])
    with CaptureQueriesContext(connection) as queries:
        transaction_post(key="raw:kept:3", kind="transfer", lines=[Line(a, -1, "NGN"), Line(b, 1, "NGN")])
    assert any("INSERT INTO ledger_posting" in q["sql"] for q in queries.captured_queries)
    assert Account.objects.get(pk=b).balance == 3
