"""The ledger service: posting, idempotency keys, overdrafts, receivables and reversals."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import Conflict, InsufficientFunds, ValidationFailed
from ledger.models import Account, Posting, Transaction
from ledger.reconcile import reconcile
from ledger.selectors import account_balance, wallets_for_user
from ledger.services import (
    Line,
    receivable_for,
    system_account,
    transaction_post,
    transaction_reverse,
    wallet_for,
)

pytestmark = pytest.mark.django_db


def _balances(user: Any, currency: str = "NGN") -> tuple[int, int]:
    view = next(w for w in wallets_for_user(user_id=user.pk) if w.currency == currency)
    return view.available, view.receivable


def test_transfer_moves_money_and_books_the_fee(make_user: Any, fund: Any) -> None:
    alice, bob = make_user(), make_user()
    fund(alice, 1_000)
    fees = system_account(kind=Account.Kind.FEES, currency="NGN")
    tx_id = transaction_post(
        key="transfer:1",
        kind="transfer",
        lines=[
            Line(wallet_for(user_id=alice.pk, currency="NGN").pk, -600, "NGN"),
            Line(wallet_for(user_id=bob.pk, currency="NGN").pk, 590, "NGN"),
            Line(fees.pk, 10, "NGN"),
        ],
    )
    assert Posting.objects.filter(transaction_id=tx_id).count() == 3
    assert _balances(alice) == (400, 0)
    assert _balances(bob) == (590, 0)
    assert account_balance(fees) == 10
    assert reconcile().clean


def test_overdraft_is_refused_and_writes_nothing(make_user: Any, fund: Any) -> None:
    alice, bob = make_user(), make_user()
    fund(alice, 500)
    before = Transaction.objects.count()
    with pytest.raises(InsufficientFunds) as raised:
        transaction_post(
            key="transfer:too-much",
            kind="transfer",
            lines=[
                Line(wallet_for(user_id=alice.pk, currency="NGN").pk, -501, "NGN"),
                Line(wallet_for(user_id=bob.pk, currency="NGN").pk, 501, "NGN"),
            ],
        )
    assert raised.value.details["required"] == 501
    assert Transaction.objects.count() == before
    assert _balances(alice) == (500, 0)
    assert _balances(bob) == (0, 0)


def test_same_key_same_lines_replays_and_other_lines_conflict(make_user: Any, fund: Any) -> None:
    alice, bob = make_user(), make_user()
    fund(alice, 1_000)
    a = wallet_for(user_id=alice.pk, currency="NGN").pk
    b = wallet_for(user_id=bob.pk, currency="NGN").pk
    first = transaction_post(key="k1", kind="transfer", lines=[Line(a, -100, "NGN"), Line(b, 100, "NGN")])
    again = transaction_post(key="k1", kind="transfer", lines=[Line(b, 100, "NGN"), Line(a, -100, "NGN")])
    assert again == first
    with pytest.raises(Conflict) as raised:
        transaction_post(key="k1", kind="transfer", lines=[Line(a, -200, "NGN"), Line(b, 200, "NGN")])
    assert raised.value.code == "idempotency_key_mismatch"
    assert _balances(alice) == (900, 0)
    assert _balances(bob) == (100, 0)


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([("a", -100), ("b", 99)], "unbalanced_transaction"),
        ([("a", -100)], "unbalanced_transaction"),
        ([("a", 0), ("b", 0)], "invalid_amount"),
        ([("a", -1.5), ("b", 1.5)], "invalid_amount"),
        ([("a", -(10**16)), ("b", 10**16)], "invalid_amount"),
    ],
)
def test_malformed_lines_are_refused(make_user: Any, fund: Any, lines: list[tuple[str, Any]], code: str) -> None:
    alice, bob = make_user(), make_user()
    fund(alice, 1_000)
    ids = {"a": wallet_for(user_id=alice.pk, currency="NGN").pk, "b": wallet_for(user_id=bob.pk, currency="NGN").pk}
    before = Transaction.objects.count()
    with pytest.raises(ValidationFailed) as raised:
        transaction_post(key="bad", kind="transfer", lines=[Line(ids[n], amt, "NGN") for n, amt in lines])
    assert raised.value.code == code
    assert Transaction.objects.count() == before


def test_a_transaction_has_at_most_a_thousand_lines(make_user: Any, fund: Any) -> None:
    alice, bob = make_user(), make_user()
    fund(alice, 10_000)
    a, b = wallet_for(user_id=alice.pk, currency="NGN").pk, wallet_for(user_id=bob.pk, currency="NGN").pk
    before = Transaction.objects.count()
    with pytest.raises(ValidationFailed) as raised:
        transaction_post(key="wide", kind="transfer", lines=[Line(a, -1, "NGN"), Line(b, 1, "NGN")] * 501)
    assert raised.value.code == "too_many_lines"
    assert Transaction.objects.count() == before


def test_many_lines_naming_accounts_twice_post_as_written(make_user: Any, fund: Any) -> None:
    """Every line is a posting; each account moves once, by its lines' net."""
    alice, bob, carol = make_user(), make_user(), make_user()
    fund(alice, 1_000)
    a, b, c = (wallet_for(user_id=u.pk, currency="NGN").pk for u in (alice, bob, carol))
    fees = system_account(kind=Account.Kind.FEES, currency="NGN").pk
    lines = [Line(a, -10, "NGN"), Line(b, 7, "NGN"), Line(fees, 3, "NGN")] * 20 + [
        Line(b, -5, "NGN"),
        Line(c, 5, "NGN"),
    ]
    posted = transaction_post(key="many", kind="transfer", lines=lines)
    assert Posting.objects.filter(transaction_id=posted).count() == 62
    assert _balances(alice)[0] == 800
    assert _balances(bob)[0] == 135
    assert _balances(carol)[0] == 5
    assert transaction_post(key="many", kind="transfer", lines=lines) == posted
    assert _balances(bob)[0] == 135


def test_currency_must_match_the_account(make_user: Any, fund: Any) -> None:
    alice = make_user()
    fund(alice, 1_000)
    usd_house = system_account(kind=Account.Kind.HOUSE, currency="USD")
    with pytest.raises(ValidationFailed) as raised:
        transaction_post(
            key="mixed",
            kind="transfer",
            lines=[Line(wallet_for(user_id=alice.pk, currency="NGN").pk, -10, "NGN"), Line(usd_house.pk, 10, "NGN")],
        )
    assert raised.value.code == "currency_mismatch"


def test_reversal_claws_back_beyond_the_wallet_onto_the_receivable(make_user: Any, fund: Any) -> None:
    """A win of 1,000 reversed after the winner spent 700: wallet to zero, 700 owed."""
    winner, other = make_user(), make_user()
    house = system_account(kind=Account.Kind.HOUSE, currency="NGN")
    fund(other, 5_000)
    # The house pays the winner 1,000 (funded through the other user's lost stake).
    transaction_post(
        key="stake",
        kind="stake",
        lines=[Line(wallet_for(user_id=other.pk, currency="NGN").pk, -5_000, "NGN"), Line(house.pk, 5_000, "NGN")],
    )
    win = transaction_post(
        key="win",
        kind="win",
        lines=[Line(house.pk, -1_000, "NGN"), Line(wallet_for(user_id=winner.pk, currency="NGN").pk, 1_000, "NGN")],
    )
    transaction_post(
        key="spend",
        kind="spend",
        lines=[Line(wallet_for(user_id=winner.pk, currency="NGN").pk, -700, "NGN"), Line(house.pk, 700, "NGN")],
    )
    reversal = transaction_reverse(original_id=win, reason="result corrected")
    assert reversal.reverses_id == win
    assert _balances(winner) == (0, 700)
    assert account_balance(house) == 5_000 - 1_000 + 700 + 1_000

    # A new credit pays the debt first: 1,000 in, 700 to the receivable, 300 to the wallet.
    fund(winner, 1_000)
    assert _balances(winner) == (300, 0)
    assert reconcile().clean


def test_reversing_twice_is_refused_and_the_same_reversal_replays(make_user: Any, fund: Any) -> None:
    alice = make_user()
    deposit_id = fund(alice, 1_000)
    first = transaction_reverse(original_id=deposit_id, reason="wrong user")
    assert transaction_reverse(original_id=deposit_id, reason="wrong user").pk == first.pk
    with pytest.raises(Conflict):
        transaction_reverse(original_id=deposit_id, reason="again", key="another-key")
    with pytest.raises(Conflict):
        transaction_reverse(original_id=first.pk, reason="undo the undo")
    assert _balances(alice) == (0, 0)
    assert reconcile().clean


def test_system_accounts_are_never_locked_rows(make_user: Any, fund: Any) -> None:
    alice = make_user()
    fund(alice, 1_000)
    clearing = system_account(kind=Account.Kind.BANK_CLEARING, currency="NGN")
    clearing.refresh_from_db()
    assert clearing.balance == 0  # the stored column is never moved for system accounts
    assert account_balance(clearing) == -1_000


def test_a_refused_post_names_the_account_at_fault(make_user: Any, fund: Any) -> None:
    """Each reason the one-statement post refuses, and the account it names, with nothing kept."""
    first, second = make_user(), make_user()
    low, high = sorted(
        [wallet_for(user_id=first.pk, currency="NGN").pk, wallet_for(user_id=second.pk, currency="NGN").pk]
    )
    owner = {low: first, high: second}
    fund(owner[high], 100)
    fund(owner[low], 1_000)
    house = system_account(kind=Account.Kind.HOUSE, currency="NGN").pk
    receivable = receivable_for(user_id=first.pk, currency="NGN").pk
    before = Transaction.objects.count()

    # The lower account moves first and could; the higher one is short: it is the one named.
    with pytest.raises(InsufficientFunds) as short:
        transaction_post(key="r:short", kind="transfer", lines=[Line(low, 150, "NGN"), Line(high, -150, "NGN")])
    assert short.value.details == {"account": high, "currency": "NGN", "required": 150}

    with pytest.raises(ValidationFailed) as unknown:
        transaction_post(key="r:unknown", kind="transfer", lines=[Line(low, -5, "NGN"), Line(987654321, 5, "NGN")])
    assert unknown.value.code == "unknown_account"

    with pytest.raises(ValidationFailed) as overpaid:
        transaction_post(key="r:overpaid", kind="transfer", lines=[Line(house, -5, "NGN"), Line(receivable, 5, "NGN")])
    assert overpaid.value.code == "receivable_overpaid"

    assert Transaction.objects.count() == before
    assert _balances(owner[low]) == (1_000, 0)
    assert _balances(owner[high]) == (100, 0)
    assert reconcile().clean
