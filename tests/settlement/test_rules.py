"""Every row of RULES.md, end to end through the database: an operator's event, bets placed by the
placement service with real money, the result recorded the way operators record it, then the
event settled. Each case checks the slip (status, payout in minor units, version 1), its ledger
transaction `bet:settle:<slip>:v1` (escrow -> wallet, house -> wallet, escrow -> house), the
player's wallet, escrow back to zero, the liability released, and that the books reconcile.

A stake of 10,000 (NGN 100.00) unless a case says otherwise; the worked figure is in the comment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from betting.models import BetSlip, Event, SelectionLiability
from betting.pricing import settlement_split
from betting.services import market_update
from ledger.models import Account, Transaction
from ledger.reconcile import reconcile
from settlement.diagnosis import stuck_slips
from settlement.services.voids import market_bets_void
from tests.settlement.conftest import (
    FINAL,
    FUNDS,
    KICKOFF,
    PLACED,
    Book,
    escrow,
    moneyline,
    one_x_two,
    outright,
    slip_of,
    spread,
    total,
    wallet,
)

pytestmark = pytest.mark.django_db

WON, LOST, VOID = BetSlip.Status.WON, BetSlip.Status.LOST, BetSlip.Status.VOID


@dataclass(frozen=True)
class Bet:
    kind: str
    outcome: str
    status: str
    payout: int
    stake: int = 10_000
    line: str | None = None
    name: str = ""


@dataclass(frozen=True)
class Case:
    markets: list[Any]
    home: int | None = None
    away: int | None = None
    bets: list[Bet] = field(default_factory=list)


def assert_settled(slip: BetSlip, status: str, payout: int) -> BetSlip:
    """The slip, its settlement transaction and the money split, as RULES.md "Settlement money" says."""
    slip = slip_of(slip)
    assert (slip.status, slip.payout, slip.settlement_version) == (status, payout, 1), slip
    assert slip.settled_at is not None
    tx = Transaction.objects.get(idempotency_key=f"bet:settle:{slip.pk}:v1")
    by_kind: dict[str, int] = {}
    for posting in tx.postings.select_related("account"):
        by_kind[posting.account.kind] = by_kind.get(posting.account.kind, 0) + posting.amount
    split = settlement_split(stake=slip.stake, payout=payout)
    assert by_kind.pop(Account.Kind.BETS_ESCROW) == -slip.stake
    assert by_kind.pop(Account.Kind.HOUSE, 0) == split.escrow_to_house - split.house_to_wallet
    assert by_kind.pop(Account.Kind.WALLET, 0) == payout
    assert by_kind == {}
    assert (tx.metadata["escrow_to_wallet"], tx.metadata["house_to_wallet"], tx.metadata["escrow_to_house"]) == (
        split.escrow_to_wallet,
        split.house_to_wallet,
        split.escrow_to_house,
    )
    return slip


def assert_books(*slips: BetSlip, players: list[Any]) -> None:
    assert escrow() == 0
    assert not SelectionLiability.objects.filter(amount__gt=0).exists()
    for player in players:
        mine = [slip_of(s) for s in slips if s.user_id == player.pk]
        assert wallet(player) == FUNDS - sum(s.stake for s in mine) + sum(s.payout or 0 for s in mine)
    report = reconcile()
    assert report.clean, report


CASES = {
    # Moneyline: the winner WON, the other LOST; a tie is PUSH on both (stake back, slip VOID).
    "moneyline home wins": Case(
        [moneyline("1.90", "2.05")], 2, 1, [Bet("moneyline", "home", WON, 19_000), Bet("moneyline", "away", LOST, 0)]
    ),
    "moneyline tie pushes": Case(
        [moneyline()], 1, 1, [Bet("moneyline", "home", VOID, 10_000), Bet("moneyline", "away", VOID, 10_000)]
    ),
    # 1X2: exactly one of home, draw, away WON.
    "1x2 home": Case(
        [one_x_two("2.40", "3.20", "3.00")], 2, 1,
        [Bet("1x2", "home", WON, 24_000), Bet("1x2", "draw", LOST, 0), Bet("1x2", "away", LOST, 0)],
    ),
    "1x2 draw": Case([one_x_two("2.40", "3.20", "3.00")], 0, 0, [Bet("1x2", "draw", WON, 32_000), Bet("1x2", "home", LOST, 0)]),
    "1x2 away": Case([one_x_two("2.40", "3.20", "3.00")], 0, 2, [Bet("1x2", "away", WON, 30_000), Bet("1x2", "draw", LOST, 0)]),
    # Spread, half line: home -0.5 at 1-0: m = 1 - 0.5 - 0 > 0; away +0.5: m = 0 + 0.5 - 1 < 0.
    "spread half line": Case(
        [spread("-0.5", "1.95", "1.90")], 1, 0, [Bet("spread", "home", WON, 19_500), Bet("spread", "away", LOST, 0)]
    ),
    # Whole line -1 at 1-0: m = 0 on both sides, PUSH; at 2-0 home WON.
    "spread whole line push": Case(
        [spread("-1")], 1, 0, [Bet("spread", "home", VOID, 10_000), Bet("spread", "away", VOID, 10_000)]
    ),
    "spread whole line won": Case([spread("-1")], 2, 0, [Bet("spread", "home", WON, 19_500), Bet("spread", "away", LOST, 0)]),
    # Quarter line -0.25 at 0-0: home = half on 0 (PUSH) + half on -0.5 (LOST) = HALF_LOST: 10,000 / 2;
    # away +0.25 = +0 (PUSH) + +0.5 (WON) = HALF_WON: 10,000 * (1.95 + 1) / 2 = 14,750.
    # HALF_LOST pays below the stake and the slip is still WON.
    "spread quarter -0.25": Case(
        [spread("-0.25")], 0, 0, [Bet("spread", "home", WON, 5_000), Bet("spread", "away", WON, 14_750)]
    ),
    # Quarter line -0.75 at 1-0: home = -0.5 (WON) + -1 (PUSH) = HALF_WON 14,750; away HALF_LOST 5,000.
    "spread quarter -0.75": Case(
        [spread("-0.75")], 1, 0, [Bet("spread", "home", WON, 14_750), Bet("spread", "away", WON, 5_000)]
    ),
    # Totals: OVER m = total - L, UNDER m = L - total.
    "total half line": Case(
        [total("2.5", "1.80", "2.00")], 2, 1, [Bet("total", "over", WON, 18_000), Bet("total", "under", LOST, 0)]
    ),
    "total whole line push": Case(
        [total("3")], 2, 1, [Bet("total", "over", VOID, 10_000), Bet("total", "under", VOID, 10_000)]
    ),
    # 2.25 with 2 goals: over = 2 (PUSH) + 2.5 (LOST) = HALF_LOST 5,000; under HALF_WON 10,000 * 3.00 / 2.
    "total quarter 2.25": Case(
        [total("2.25", "1.80", "2.00")], 1, 1, [Bet("total", "over", WON, 5_000), Bet("total", "under", WON, 15_000)]
    ),
    # 2.75 with 3 goals: over = 2.5 (WON) + 3 (PUSH) = HALF_WON 10,000 * 2.80 / 2; under HALF_LOST.
    "total quarter 2.75": Case(
        [total("2.75", "1.80", "2.00")], 2, 1, [Bet("total", "over", WON, 14_000), Bet("total", "under", WON, 5_000)]
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_markets(book: Book, name: str) -> None:
    case = CASES[name]
    event = book.event(*case.markets)
    player = book.player()
    slips = [
        (book.bet(player, book.selection(event, bet.kind, bet.outcome), stake=bet.stake), bet) for bet in case.bets
    ]
    book.result(event, home=case.home, away=case.away, at=FINAL)
    report = book.settle(event)
    assert report.settled == len(slips) and report.waiting == 0
    for slip, bet in slips:
        assert_settled(slip, bet.status, bet.payout)
    assert_books(*(s for s, _ in slips), players=[player])


# --- outrights and dead heats ---------------------------------------------------------------------

RUNNERS = [("Arrow", "3.50"), ("Bolt", "5.00"), ("Comet", "5.00"), ("Dart", "5.00"), ("Ember", "8.00")]


def outright_case(book: Book, paying_places: int, placings: dict[str, int], bets: dict[str, int]) -> dict[str, Any]:
    event = book.event(outright(RUNNERS, paying_places=paying_places), teams=False, name="Derby")
    player = book.player()
    slips = {name: book.bet(player, book.selection(event, "outright", "competitor", name=name), stake=stake)
             for name, stake in bets.items()}  # fmt: skip
    by_name = {name: book.selection(event, "outright", "competitor", name=name).pk for name, _ in RUNNERS}
    book.result(event, placings={by_name[name]: place for name, place in placings.items()}, at=FINAL)
    book.settle(event)
    return {"slips": slips, "player": player}


def test_outright_winner_won_the_others_lost(book: Book) -> None:
    case = outright_case(book, 1, {"Arrow": 1, "Bolt": 2}, {"Arrow": 10_000, "Bolt": 10_000, "Ember": 10_000})
    slips = case["slips"]
    assert_settled(slips["Arrow"], WON, 35_000)
    assert_settled(slips["Bolt"], LOST, 0)
    assert_settled(slips["Ember"], LOST, 0)  # outside the recorded places, which are filled
    assert_books(*slips.values(), players=[case["player"]])


def test_dead_heat_two_tied_for_the_last_paying_place(book: Book) -> None:
    # Two paying places; Bolt and Comet tie for 2nd: 2 tied share 1 place: 5.00 * 1/2 = 2.5.
    case = outright_case(book, 2, {"Arrow": 1, "Bolt": 2, "Comet": 2}, {"Bolt": 10_000, "Arrow": 10_000})
    assert_settled(case["slips"]["Bolt"], WON, 25_000)
    assert_settled(case["slips"]["Arrow"], WON, 35_000)
    assert_books(*case["slips"].values(), players=[case["player"]])


def test_dead_heat_pays_exactly_ten_thirds(book: Book) -> None:
    # Three paying places; Bolt, Comet and Dart tie for 2nd: 3 tied share 2 places: 5.00 * 2/3 = 10/3.
    # A stake of 3,000 pays exactly 10,000 (a 10-place decimal factor, 3.3333333333, would pay 9,999).
    case = outright_case(
        book, 3, {"Arrow": 1, "Bolt": 2, "Comet": 2, "Dart": 2}, {"Bolt": 3_000, "Comet": 3_001, "Ember": 3_000}
    )
    assert_settled(case["slips"]["Bolt"], WON, 10_000)
    assert_settled(case["slips"]["Comet"], WON, 10_003)  # 3,001 * 10/3 = 10,003.33
    assert_settled(case["slips"]["Ember"], LOST, 0)
    bolt = book.selection(Event.objects.get(name="Derby"), "outright", "competitor", name="Bolt")
    assert (bolt.result, bolt.dead_heat_tied, bolt.dead_heat_places) == ("won", 3, 2)
    assert_books(*case["slips"].values(), players=[case["player"]])


def test_an_outright_the_grader_cannot_grade_stays_pending_and_is_reported(book: Book) -> None:
    # One paying place, but the result names only a second place: the winner is unknown.
    event = book.event(outright(RUNNERS, paying_places=1), teams=False, name="Derby")
    player = book.player()
    slip = book.bet(player, book.selection(event, "outright", "competitor", name="Arrow"))
    bolt = book.selection(event, "outright", "competitor", name="Bolt")
    book.result(event, placings={bolt.pk: 2}, at=FINAL)
    report = book.settle(event)
    assert report.settled == 0 and report.waiting == 1
    assert report.grading is not None and report.grading.ungraded["missing_placing"] == len(RUNNERS) - 1
    assert slip_of(slip).status == BetSlip.Status.PENDING  # never a silent push
    total_stuck, diagnoses = stuck_slips()
    assert total_stuck == 1 and diagnoses[0].slip_id == slip.pk
    assert "cannot be graded" in diagnoses[0].reason and "missing_placing" in diagnoses[0].reason
    assert reconcile().clean


# --- voids ----------------------------------------------------------------------------------------


def test_cancelled_event_voids_every_bet(book: Book) -> None:
    event = book.event(moneyline(), total("2.5"))
    player = book.player()
    slips = [
        book.bet(player, book.selection(event, "moneyline", "home")),
        book.bet(player, book.selection(event, "total", "over")),
    ]
    book.result(event, "cancelled", at=FINAL)
    book.settle(event)
    for slip in slips:
        assert_settled(slip, VOID, 10_000)
    assert book.selection(event, "total", "over").void_reason == "cancelled"
    assert_books(*slips, players=[player])


def test_a_market_voided_by_an_operator_is_void_before_the_event_ends(book: Book) -> None:
    event = book.event(moneyline(), total("2.5"))
    player = book.player()
    voided = book.bet(player, book.selection(event, "moneyline", "home"))
    other = book.bet(player, book.selection(event, "total", "over"))
    market_update(market_id=book.selection(event, "moneyline", "home").market_id, action="void")
    book.settle(event, at=KICKOFF + timedelta(minutes=30))
    assert_settled(voided, VOID, 10_000)
    assert slip_of(other).status == BetSlip.Status.PENDING  # its market waits for the result
    book.result(event, home=2, away=1, at=FINAL)
    book.settle(event)
    assert_settled(other, WON, 18_000)
    assert_books(voided, other, players=[player])


def test_postponed_and_not_completed_within_48_hours_is_void(book: Book) -> None:
    event = book.event(moneyline())
    player = book.player()
    slip = book.bet(player, book.selection(event, "moneyline", "home"))
    book.result(event, "postponed", at=KICKOFF - timedelta(minutes=10))
    assert book.settle(event, at=KICKOFF + timedelta(hours=47)).settled == 0  # still inside the window
    assert slip_of(slip).status == BetSlip.Status.PENDING
    book.settle(event, at=KICKOFF + timedelta(hours=48, minutes=1))
    assert_settled(slip, VOID, 10_000)
    assert book.selection(event, "moneyline", "home").void_reason == "not_completed"
    assert_books(slip, players=[player])


def test_postponed_but_completed_within_48_hours_is_graded(book: Book) -> None:
    event = book.event(moneyline())
    player = book.player()
    slip = book.bet(player, book.selection(event, "moneyline", "home"))
    book.result(event, "postponed", at=KICKOFF - timedelta(minutes=10))
    book.result(event, "finished", home=3, away=0, at=KICKOFF + timedelta(hours=30))
    book.settle(event)
    assert_settled(slip, WON, 19_000)
    assert_books(slip, players=[player])


def test_abandoned_then_finished_after_48_hours_of_the_original_start_is_void(book: Book) -> None:
    event = book.event(moneyline())
    player = book.player()
    slip = book.bet(player, book.selection(event, "moneyline", "home"))
    book.result(event, "live", at=KICKOFF)
    book.result(event, "abandoned", at=KICKOFF + timedelta(minutes=50))
    # Rescheduled by the feed: the window still runs from the start the bets were placed against.
    Event.objects.filter(pk=event.pk).update(scheduled_start=KICKOFF + timedelta(hours=40), original_start=KICKOFF)
    book.result(event, "finished", home=2, away=0, at=KICKOFF + timedelta(hours=49))
    book.settle(event)
    assert_settled(slip, VOID, 10_000)
    assert_books(slip, players=[player])


def test_a_pre_match_bet_accepted_after_the_actual_start_is_void(book: Book) -> None:
    from betting.services.catalogue import event_state_apply

    event = book.event(moneyline())
    player = book.player()
    early = book.bet(player, book.selection(event, "moneyline", "home"), at=KICKOFF - timedelta(minutes=20))
    late = book.bet(player, book.selection(event, "moneyline", "home"), at=KICKOFF - timedelta(minutes=5))
    # The feed reports the game started ten minutes early, after the second bet was taken.
    book.clock.move_to(KICKOFF, tick=False)
    locked = Event.objects.get(pk=event.pk)
    event_state_apply(locked, status="live", now=KICKOFF, started_at=KICKOFF - timedelta(minutes=10))
    book.result(event, home=1, away=0, at=FINAL)
    book.settle(event)
    assert_settled(early, WON, 19_000)
    assert_settled(late, VOID, 10_000)
    assert_books(early, late, players=[player])


def test_an_operator_voids_the_bets_placed_inside_a_time_window(book: Book, staff: Any) -> None:
    event = book.event(moneyline())
    player = book.player()
    selection = book.selection(event, "moneyline", "home")
    before = book.bet(player, selection, at=PLACED - timedelta(minutes=30))
    inside = book.bet(player, selection, at=PLACED)
    market_bets_void(
        market_id=selection.market_id,
        start=PLACED - timedelta(minutes=1),
        end=PLACED + timedelta(minutes=1),
        reason="a stale price was on offer",
        operator_id=staff.pk,
    )
    assert book.settle(event, at=KICKOFF - timedelta(minutes=30)).settled == 1  # void needs no result
    assert_settled(inside, VOID, 10_000)
    book.result(event, home=2, away=0, at=FINAL)
    book.settle(event)
    assert_settled(before, WON, 19_000)
    assert_books(before, inside, players=[player])


# --- slips of several legs ------------------------------------------------------------------------


def test_parlays(book: Book) -> None:
    a = book.event(moneyline("1.90", "2.05"))
    b = book.event(one_x_two("2.40", "3.20", "3.00"))
    c = book.event(spread("-1"))
    d = book.event(moneyline("1.50", "2.60"))
    e = book.event(spread("-0.75"))
    player = book.player()
    a_home, b_home = book.selection(a, "moneyline", "home"), book.selection(b, "1x2", "home")
    c_home, d_home = book.selection(c, "spread", "home"), book.selection(d, "moneyline", "home")
    e_home = book.selection(e, "spread", "home")
    all_won = book.bet(player, a_home, b_home)  # 1.90 * 2.40 = 4.56: 45,600
    repriced = book.bet(player, a_home, c_home, d_home)  # push (c) and void (d, cancelled) count 1: 19,000
    lost = book.bet(player, a_home, book.selection(b, "1x2", "away"))  # any LOST leg loses the slip
    refunded = book.bet(player, c_home, d_home)  # every leg PUSH or VOID: the stake back, VOID
    half = book.bet(player, a_home, e_home, stake=10_001)  # 10,001 * 1.90 * 1.475 = 28,027.8025: 28,027
    book.result(a, home=2, away=1, at=FINAL)
    book.result(b, home=1, away=0)
    book.result(c, home=1, away=0)
    book.result(d, "cancelled")
    book.result(e, home=1, away=0)
    for event in (a, b, c, d, e):
        book.settle(event)
    assert_settled(all_won, WON, 45_600)
    assert_settled(repriced, WON, 19_000)
    assert_settled(lost, LOST, 0)
    assert_settled(refunded, VOID, 10_000)
    assert_settled(half, WON, 28_027)
    assert_books(all_won, repriced, lost, refunded, half, players=[player])


def test_a_parlay_waits_for_its_last_leg(book: Book) -> None:
    a, b = book.event(moneyline()), book.event(moneyline("2.00", "1.80"))
    player = book.player()
    slip = book.bet(player, book.selection(a, "moneyline", "home"), book.selection(b, "moneyline", "home"))
    book.result(a, home=1, away=0, at=FINAL)
    report = book.settle(a)
    assert (report.settled, report.waiting) == (0, 1)
    book.result(b, home=3, away=1)
    assert book.settle(b).settled == 1
    assert_settled(slip, WON, 38_000)  # 10,000 * 1.90 * 2.00
    assert_books(slip, players=[player])


def test_system_bets(book: Book) -> None:
    events = [book.event(moneyline(home, "1.90")) for home in ("1.95", "2.15", "1.85", "2.50")]
    player = book.player()
    homes = [book.selection(e, "moneyline", "home") for e in events]
    # 2/3, lines of 1,000, all WON: 1,000 * (1.95*2.15 + 1.95*1.85 + 2.15*1.85) = 11,777.5: 11,777, floored
    # once on the sum (line by line it would be 4,192 + 3,607 + 3,977 = 11,776).
    two_of_three = book.bet(player, *homes[:3], stake=3_000, kind="system", system="2/3")
    assert slip_of(two_of_three).potential_payout == 11_777  # placement prices it the same way
    # 3/4, lines of 2,500, the fourth leg LOST: only ABC pays: 2,500 * 1.95 * 2.15 * 1.85 = 19,390.3125.
    three_of_four = book.bet(player, *homes, stake=10_000, kind="system", system="3/4")
    for event, (home, away) in zip(events, [(1, 0), (2, 0), (3, 1), (0, 1)], strict=True):
        book.result(event, home=home, away=away, at=FINAL)
        book.settle(event)
    assert_settled(two_of_three, WON, 11_777)
    assert_settled(three_of_four, WON, 19_390)
    assert_books(two_of_three, three_of_four, players=[player])
