"""Corrections (RULES.md "Corrections and resettlement"): inside RESETTLE_WINDOW_HOURS of the first
settlement a corrected result reverses each affected slip's settlement and settles it again at
version + 1, clawing back beyond the wallet onto the receivable; after the window it is logged and
ignored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from betting.models import BetSlip
from ledger.models import Transaction
from ledger.reconcile import reconcile
from realtime.models import OutboxEvent
from settlement.models import EventSettlement
from tests.settlement.conftest import FINAL, FUNDS, Book, escrow, moneyline, owed, slip_of, wallet

pytestmark = pytest.mark.django_db


def settle_tx(slip: BetSlip, version: int) -> Transaction:
    return Transaction.objects.get(idempotency_key=f"bet:settle:{slip.pk}:v{version}")


def user_delta(tx: Transaction, user: Any) -> dict[str, int]:
    moved: dict[str, int] = {}
    for posting in tx.postings.select_related("account").filter(account__user=user):
        moved[posting.account.kind] = moved.get(posting.account.kind, 0) + posting.amount
    return moved


def test_a_correction_that_flips_the_result_resettles_with_a_claw_back(book: Book) -> None:
    event = book.event(moneyline("1.90", "2.05"))
    alice, bob = book.player(funds=20_000), book.player()
    home = book.bet(alice, book.selection(event, "moneyline", "home"), stake=10_000)
    away = book.bet(bob, book.selection(event, "moneyline", "away"), stake=10_000)
    book.result(event, home=2, away=1, at=FINAL)
    book.settle(event)
    assert wallet(alice) == 10_000 + 19_000

    # Alice stakes most of her winnings on something else before the correction arrives.
    other = book.event(moneyline(), start=FINAL + timedelta(days=1))
    book.bet(alice, book.selection(other, "moneyline", "home"), stake=25_000, at=FINAL + timedelta(minutes=30))
    assert wallet(alice) == 4_000

    book.result(event, home=1, away=2, at=FINAL + timedelta(hours=3))  # corrected: away won
    report = book.settle(event)
    assert (report.settled, report.resettled) == (0, 2)

    home, away = slip_of(home), slip_of(away)
    assert (home.status, home.payout, home.settlement_version) == (BetSlip.Status.LOST, 0, 2)
    assert (away.status, away.payout, away.settlement_version) == (BetSlip.Status.WON, 20_500, 2)
    # Alice gives back 19,000: the 4,000 she holds, and 15,000 booked on her receivable.
    reversal = Transaction.objects.get(idempotency_key=f"bet:settle:{home.pk}:v1:reverse")
    assert reversal.reverses_id == settle_tx(home, 1).pk and reversal.kind == "reversal"
    assert user_delta(reversal, alice) == {"wallet": -4_000, "receivable": -15_000}
    assert (wallet(alice), owed(alice)) == (0, 15_000)
    assert user_delta(settle_tx(home, 2), alice) == {}  # LOST: the stake goes escrow -> house
    assert wallet(bob) == FUNDS - 10_000 + 20_500
    assert OutboxEvent.objects.filter(type="bet.updated", data__slip=home.pk, data__version=2).exists()

    # Corrected again, back to the first result (still inside the window): the new payout pays
    # Alice's debt off first, the rest lands in her wallet.
    book.result(event, home=2, away=1, at=FINAL + timedelta(hours=6))
    book.settle(event)
    home, away = slip_of(home), slip_of(away)
    assert (home.status, home.payout, home.settlement_version) == (BetSlip.Status.WON, 19_000, 3)
    assert (away.status, away.settlement_version) == (BetSlip.Status.LOST, 3)
    assert user_delta(settle_tx(home, 3), alice) == {"receivable": 15_000, "wallet": 4_000}
    assert (wallet(alice), owed(alice)) == (4_000, 0)
    assert wallet(bob) == FUNDS - 10_000
    assert escrow() == 25_000  # only Alice's open bet on the other event
    assert reconcile().clean

    # Nothing left to do: settling again changes nothing.
    again = book.settle(event)
    assert (again.settled, again.resettled) == (0, 0)


def test_a_correction_that_changes_no_payout_changes_no_slip(book: Book) -> None:
    event = book.event(moneyline())
    player = book.player()
    slip = book.bet(player, book.selection(event, "moneyline", "home"))
    book.result(event, home=2, away=1, at=FINAL)
    book.settle(event)
    book.result(event, home=3, away=1, at=FINAL + timedelta(hours=1))
    report = book.settle(event)
    assert report.grading is not None and report.grading.written == []  # every grade as it was
    assert (report.settled, report.resettled) == (0, 0)
    assert slip_of(slip).settlement_version == 1
    assert reconcile().clean


def test_a_correction_after_the_window_is_logged_and_ignored(book: Book, caplog: Any) -> None:
    event = book.event(moneyline())
    alice = book.player()
    slip = book.bet(alice, book.selection(event, "moneyline", "home"))
    book.result(event, home=2, away=1, at=FINAL)
    book.settle(event)
    paid = wallet(alice)

    book.result(event, home=0, away=3, at=FINAL + timedelta(hours=24, minutes=1))
    with caplog.at_level("WARNING"):
        report = book.settle(event)
    assert report.grading is not None and report.grading.ignored_correction
    assert (report.settled, report.resettled) == (0, 0)
    assert any("settlement.correction_ignored" in record.getMessage() for record in caplog.records)
    slip = slip_of(slip)
    assert (slip.status, slip.payout, slip.settlement_version) == (BetSlip.Status.WON, 19_000, 1)
    assert book.selection(event, "moneyline", "home").result == "won"  # the grades stay what was settled
    assert wallet(alice) == paid
    record = EventSettlement.objects.get(event=event)
    assert (record.ignored_version, record.graded_version) == (2, 1)
    assert book.settle(event).grading.ignored_correction is False  # seen once, not again  # type: ignore[union-attr]
    assert reconcile().clean


def test_a_parlay_is_resettled_when_one_of_its_events_is_corrected(book: Book) -> None:
    a, b = book.event(moneyline("1.90", "2.05")), book.event(moneyline("2.00", "1.80"))
    player = book.player()
    slip = book.bet(player, book.selection(a, "moneyline", "home"), book.selection(b, "moneyline", "home"))
    book.result(a, home=1, away=0, at=FINAL)
    book.result(b, home=2, away=0)
    book.settle(a)
    book.settle(b)
    assert slip_of(slip).payout == 38_000
    book.result(a, home=1, away=1, at=FINAL + timedelta(hours=2))  # corrected to a draw: leg a pushes
    book.settle(a)
    slip = slip_of(slip)
    assert (slip.status, slip.payout, slip.settlement_version) == (BetSlip.Status.WON, 20_000, 2)
    assert wallet(player) == FUNDS - 10_000 + 20_000
    assert reconcile().clean
