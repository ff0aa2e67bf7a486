"""What follows a settlement: the events players hear, the liability released, and the big wins the
on-chain audit trail anchors (its candidate source is settlement's, by default)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from ledger.chain.services import chain_record_request
from settlement.selectors import settled_big_wins
from tests.settlement.conftest import FINAL, Book, moneyline, slip_of

pytestmark = pytest.mark.django_db


def test_settled_big_wins_feed_anchor_big_wins(book: Book) -> None:
    assert settings.BIG_WIN_CANDIDATE_SOURCE == "settlement.selectors.settled_big_wins"
    event = book.event(moneyline("1.90", "2.05"))
    whale, minnow = book.player(funds=100_000_000), book.player()
    big = book.bet(whale, book.selection(event, "moneyline", "home"), stake=60_000_000)  # pays 114,000,000
    small = book.bet(minnow, book.selection(event, "moneyline", "home"), stake=10_000)
    lost = book.bet(minnow, book.selection(event, "moneyline", "away"), stake=10_000)
    book.result(event, home=1, away=0, at=FINAL)
    book.settle(event)
    assert slip_of(big).payout == 114_000_000 >= settings.BIG_WIN_THRESHOLD

    assert list(settled_big_wins(threshold=settings.BIG_WIN_THRESHOLD, currency="NGN", limit=10)) == [
        (big.pk, 114_000_000, "NGN")
    ]
    assert list(settled_big_wins(threshold=1, currency="NGN", limit=10)) == [
        (big.pk, 114_000_000, "NGN"),
        (small.pk, 19_000, "NGN"),
    ]  # oldest settled first, winners only: never the lost slip
    assert lost.pk not in {row[0] for row in settled_big_wins(threshold=0, currency="NGN", limit=10)}
    assert list(settled_big_wins(threshold=1, currency="USD", limit=10)) == []

    out = StringIO()
    call_command("anchor_big_wins", "--dry-run", stdout=out)
    assert "candidates from settlement.selectors.settled_big_wins: 1 seen, would request 1" in out.getvalue()

    chain_record_request(subject_id=big.pk, win_amount=114_000_000, currency="NGN")
    assert list(settled_big_wins(threshold=settings.BIG_WIN_THRESHOLD, currency="NGN", limit=10)) == []


def test_settled_slips_release_their_liability_and_tell_the_player(book: Book) -> None:
    from betting.models import SelectionLiability
    from realtime.models import OutboxEvent

    event = book.event(moneyline("1.90", "2.05"))
    player = book.player()
    home = book.selection(event, "moneyline", "home")
    slips = [book.bet(player, home, stake=10_000) for _ in range(3)]
    assert SelectionLiability.objects.get(selection=home).amount == 3 * 9_000
    book.result(event, home=1, away=0, at=FINAL)
    book.settle(event)
    assert SelectionLiability.objects.get(selection=home).amount == 0
    settled = OutboxEvent.objects.filter(type="bet.settled").order_by("seq")
    assert [(e.user_id, e.data["slip"], e.data["status"], e.data["payout"]["amount"]) for e in settled] == [
        (player.pk, slip.pk, "won", 19_000) for slip in slips
    ]
    assert settled[0].data["payout"]["display"] == "NGN 190.00" and settled[0].data["version"] == 1
    updated = OutboxEvent.objects.filter(type="selection.updated", topic=f"selection:{home.pk}").get()
    assert (updated.data["result"], updated.data["factor"]) == ("won", "1.9000000000")


def test_metrics_count_settled_slips_and_their_latency(book: Book, django_capture_on_commit_callbacks: Any) -> None:
    from datetime import timedelta

    from core.metrics import BETS_SETTLED, SETTLEMENT_LATENCY

    def latency_count() -> float:
        return next(s.value for s in SETTLEMENT_LATENCY.collect()[0].samples if s.name.endswith("_count"))

    def latency_sum() -> float:
        return next(s.value for s in SETTLEMENT_LATENCY.collect()[0].samples if s.name.endswith("_sum"))

    event = book.event(moneyline())
    player = book.player()
    book.bet(player, book.selection(event, "moneyline", "home"))
    book.bet(player, book.selection(event, "moneyline", "away"))
    won, lost = BETS_SETTLED.labels("won")._value.get(), BETS_SETTLED.labels("lost")._value.get()
    count, total = latency_count(), latency_sum()
    book.result(event, home=1, away=0, at=FINAL)
    book.clock.move_to(FINAL + timedelta(seconds=42), tick=False)
    with django_capture_on_commit_callbacks(execute=True):
        book.settle(event)
    assert BETS_SETTLED.labels("won")._value.get() == won + 1
    assert BETS_SETTLED.labels("lost")._value.get() == lost + 1
    assert latency_count() == count + 2
    assert latency_sum() == pytest.approx(total + 2 * 42)  # result received at FINAL, settled 42 s later
