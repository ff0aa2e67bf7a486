"""Grading one selection, case by case from RULES.md, with the payout of a single in minor units.

Pure functions: no database. A stake of 1000 minor units unless a case says otherwise.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from betting.pricing import slip_payout
from settlement.grading import (
    DeadHeat,
    EventFacts,
    EventStatus,
    Grade,
    MarketFacts,
    MarketKind,
    Outcome,
    Result,
    Ungraded,
    UngradedReason,
    VoidReason,
    VoidWindow,
    is_quarter_line,
    selection_grade,
    selection_outcome,
)

KICKOFF = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
PLACED = KICKOFF - timedelta(hours=2)
NOW = KICKOFF + timedelta(hours=3)
DEADLINE = KICKOFF + timedelta(hours=48)


def finished(home: int | None, away: int | None, **changes: object) -> EventFacts:
    event = EventFacts(
        status=EventStatus.FINISHED,
        scheduled_start=KICKOFF,
        actual_start=KICKOFF,
        completed_at=KICKOFF + timedelta(hours=2),
        disrupted=False,
        home_score=home,
        away_score=away,
    )
    return replace(event, **changes)  # type: ignore[arg-type]


def grade(
    kind: str,
    pick: str,
    *,
    event: EventFacts,
    odds: str = "2.00",
    line: str | None = None,
    market: MarketFacts | None = None,
    accepted_at: datetime = PLACED,
    in_play: bool = False,
    now: datetime = NOW,
) -> Grade | Ungraded:
    return selection_grade(
        event=event,
        market=market or MarketFacts(kind=kind),
        pick=pick,
        line=Decimal(line) if line is not None else None,
        odds=Decimal(odds),
        accepted_at=accepted_at,
        in_play=in_play,
        now=now,
    )


def single(graded: Grade | Ungraded, stake: int = 1000) -> tuple[Result, int]:
    assert isinstance(graded, Grade), graded
    settled = slip_payout(kind="single", stake=stake, legs=[graded])
    return graded.result, settled.payout


W, HW, P, V, HL, L = Result.WON, Result.HALF_WON, Result.PUSH, Result.VOID, Result.HALF_LOST, Result.LOST

# (kind, pick, line, home, away, odds, result, payout on 1000)
SCORE_CASES = [
    # Moneyline (2-way): the winner WON, the other LOST, a tie PUSH on both.
    ("moneyline", "home", None, 2, 1, "1.80", W, 1800),
    ("moneyline", "away", None, 2, 1, "2.10", L, 0),
    ("moneyline", "away", None, 0, 3, "2.50", W, 2500),
    ("moneyline", "home", None, 0, 3, "1.60", L, 0),
    ("moneyline", "home", None, 1, 1, "1.90", P, 1000),
    ("moneyline", "away", None, 1, 1, "1.95", P, 1000),
    # 1X2: exactly one of HOME, DRAW, AWAY wins.
    ("1x2", "home", None, 2, 1, "2.20", W, 2200),
    ("1x2", "draw", None, 2, 1, "3.30", L, 0),
    ("1x2", "away", None, 2, 1, "3.10", L, 0),
    ("1x2", "home", None, 1, 1, "2.20", L, 0),
    ("1x2", "draw", None, 1, 1, "3.30", W, 3300),
    ("1x2", "away", None, 1, 1, "3.10", L, 0),
    ("1x2", "home", None, 0, 2, "2.20", L, 0),
    ("1x2", "draw", None, 0, 2, "3.30", L, 0),
    ("1x2", "away", None, 0, 2, "4.00", W, 4000),
    # Spread, whole line: m = own + L - other; m = 0 is a PUSH.
    ("spread", "home", "-1", 3, 1, "1.90", W, 1900),  # m = 3 - 1 - 1 = 1
    ("spread", "home", "-1", 2, 1, "1.90", P, 1000),  # m = 0
    ("spread", "home", "-1", 1, 1, "1.90", L, 0),  # m = -1
    ("spread", "away", "+1", 1, 1, "1.95", W, 1950),  # m = 1 + 1 - 1 = 1
    ("spread", "away", "+1", 2, 1, "1.95", P, 1000),
    ("spread", "away", "+1", 3, 1, "1.95", L, 0),
    ("spread", "home", "0", 1, 1, "1.90", P, 1000),  # draw no bet
    # Spread, half line: never a push.
    ("spread", "home", "-1.5", 3, 1, "2.05", W, 2050),
    ("spread", "home", "-1.5", 2, 1, "2.05", L, 0),
    ("spread", "away", "+1.5", 2, 1, "1.80", W, 1800),
    ("spread", "away", "+1.5", 3, 1, "1.80", L, 0),
    # Spread, quarter lines: half-stakes on L - 0.25 and L + 0.25.
    ("spread", "home", "-0.25", 1, 0, "1.90", W, 1900),  # -0.5 WON, 0 WON
    ("spread", "home", "-0.25", 1, 1, "1.90", HL, 500),  # -0.5 LOST, 0 PUSH: 1000 / 2
    ("spread", "home", "-0.25", 0, 1, "1.90", L, 0),
    ("spread", "away", "+0.25", 1, 1, "1.95", HW, 1475),  # 0 PUSH, +0.5 WON: 1000 * 2.95 / 2
    ("spread", "away", "+0.25", 1, 0, "1.95", L, 0),
    ("spread", "away", "+0.25", 0, 1, "1.95", W, 1950),
    ("spread", "home", "-0.75", 1, 0, "2.00", HW, 1500),  # -1 PUSH, -0.5 WON: 1000 * 3 / 2
    ("spread", "home", "-0.75", 2, 0, "2.00", W, 2000),
    ("spread", "home", "-0.75", 1, 1, "2.00", L, 0),
    ("spread", "away", "+0.75", 1, 0, "1.85", HL, 500),  # +0.5 LOST, +1 PUSH
    ("spread", "away", "+0.75", 1, 1, "1.85", W, 1850),
    ("spread", "away", "+0.75", 2, 0, "1.85", L, 0),
    ("spread", "home", "-1.25", 2, 1, "2.10", HL, 500),  # -1.5 LOST, -1 PUSH
    ("spread", "home", "-1.25", 3, 1, "2.10", W, 2100),
    ("spread", "away", "+1.25", 2, 1, "1.75", HW, 1375),  # +1 PUSH, +1.5 WON: 1000 * 2.75 / 2
    ("spread", "home", "-2.75", 4, 1, "2.40", HW, 1700),  # -3 PUSH, -2.5 WON: 1000 * 3.4 / 2
    ("spread", "home", "-2.75", 3, 1, "2.40", L, 0),
    ("spread", "home", "+0.25", 0, 0, "1.9333", HW, 1466),  # 1000 * 2.9333 / 2 = 1466.65, floored
    # Total: OVER m = total - L, UNDER m = L - total.
    ("total", "over", "2.5", 2, 1, "1.90", W, 1900),
    ("total", "over", "2.5", 1, 1, "1.90", L, 0),
    ("total", "under", "2.5", 1, 1, "1.90", W, 1900),
    ("total", "under", "2.5", 2, 1, "1.90", L, 0),
    ("total", "over", "3", 3, 1, "1.80", W, 1800),
    ("total", "over", "3", 2, 1, "1.80", P, 1000),
    ("total", "over", "3", 1, 1, "1.80", L, 0),
    ("total", "under", "3", 1, 1, "2.00", W, 2000),
    ("total", "under", "3", 2, 1, "2.00", P, 1000),
    ("total", "under", "3", 2, 2, "2.00", L, 0),
    ("total", "over", "2.25", 2, 1, "1.95", W, 1950),  # 2 WON, 2.5 WON
    ("total", "over", "2.25", 1, 1, "1.95", HL, 500),  # 2 PUSH, 2.5 LOST
    ("total", "over", "2.25", 1, 0, "1.95", L, 0),
    ("total", "under", "2.25", 1, 1, "1.85", HW, 1425),  # 2 PUSH, 2.5 WON: 1000 * 2.85 / 2
    ("total", "under", "2.25", 2, 1, "1.85", L, 0),
    ("total", "under", "2.25", 1, 0, "1.85", W, 1850),
    ("total", "over", "2.75", 2, 1, "2.00", HW, 1500),  # 2.5 WON, 3 PUSH
    ("total", "over", "2.75", 3, 1, "2.00", W, 2000),
    ("total", "over", "2.75", 1, 1, "2.00", L, 0),
    ("total", "under", "2.75", 2, 1, "1.80", HL, 500),  # 2.5 LOST, 3 PUSH
    ("total", "under", "2.75", 1, 1, "1.80", W, 1800),
    ("total", "under", "2.75", 3, 1, "1.80", L, 0),
    ("total", "under", "0.25", 0, 0, "1.50", HW, 1250),  # 0 PUSH, 0.5 WON: 1000 * 2.5 / 2
]


@pytest.mark.parametrize(("kind", "pick", "line", "home", "away", "odds", "result", "payout"), SCORE_CASES)
def test_score_markets(
    kind: str, pick: str, line: str | None, home: int, away: int, odds: str, result: Result, payout: int
) -> None:
    graded = grade(kind, pick, event=finished(home, away), odds=odds, line=line)
    assert single(graded) == (result, payout)


@pytest.mark.parametrize(
    ("stake", "odds", "line", "home", "away", "payout"),
    [
        (999, "1.95", "+0.25", 1, 1, 1473),  # HALF_WON: 999 * 2.95 / 2 = 1473.525
        (1001, "1.95", "-0.25", 1, 1, 500),  # HALF_LOST: 1001 / 2 = 500.5
        (1, "1.95", "-0.25", 1, 1, 0),  # HALF_LOST on one minor unit pays nothing: the slip is LOST
        (333, "1.91", "-1.5", 3, 1, 636),  # WON: 333 * 1.91 = 636.03
    ],
)
def test_floor_to_the_minor_unit(stake: int, odds: str, line: str, home: int, away: int, payout: int) -> None:
    graded = grade("spread", "home", event=finished(home, away), odds=odds, line=line)
    assert single(graded, stake)[1] == payout


# --- outrights and dead heats ---------------------------------------------------------------------

# (placings, paying places, pick, odds, stake, result, dead heat, payout)
OUTRIGHT_CASES = [
    ({"a": 1, "b": 2, "c": 3}, 1, "a", "5.0", 1000, W, None, 5000),
    ({"a": 1, "b": 2, "c": 3}, 1, "b", "5.0", 1000, L, None, 0),
    ({"a": 1, "b": 2}, 1, "z", "9.0", 1000, L, None, 0),  # unplaced, the paying place is known
    ({"a": 1, "b": 2, "c": 3}, 2, "b", "4.0", 1000, W, None, 4000),  # 2nd of 2 paying places
    # Two tied for one paying place: 6.0 * 1 / 2.
    ({"a": 1, "b": 1, "c": 3}, 1, "a", "6.0", 1000, W, DeadHeat(tied=2, places=1), 3000),
    ({"a": 1, "b": 1, "c": 3}, 1, "c", "6.0", 1000, L, None, 0),
    # Three tied for two paying places at odds 5.0: 5.0 * 2 / 3 = 10/3.
    ({"a": 1, "b": 1, "c": 1, "d": 4}, 2, "b", "5.0", 1000, W, DeadHeat(tied=3, places=2), 3333),
    ({"a": 1, "b": 1, "c": 1, "d": 4}, 2, "b", "5.0", 3, W, DeadHeat(tied=3, places=2), 10),  # exact, not 9
    ({"a": 1, "b": 1, "c": 1, "d": 4}, 2, "b", "5.0", 999, W, DeadHeat(tied=3, places=2), 3330),
    # Top three pay; three tied for 2nd share the two places left: 5.0 * 2 / 3.
    ({"a": 1, "b": 2, "c": 2, "d": 2}, 3, "c", "5.0", 1000, W, DeadHeat(tied=3, places=2), 3333),
    ({"a": 1, "b": 2, "c": 2, "d": 2}, 3, "a", "3.0", 1000, W, None, 3000),
    # Top three pay; two tied for 3rd share the one place left: 7.0 / 2.
    ({"a": 1, "b": 2, "c": 3, "d": 3}, 3, "d", "7.0", 1000, W, DeadHeat(tied=2, places=1), 3500),
    # Two tied for 2nd of three paying places: both places are theirs, no reduction.
    ({"a": 1, "b": 2, "c": 2, "d": 4}, 3, "c", "4.0", 1000, W, None, 4000),
    ({"a": 1, "b": 2, "c": 2, "d": 4}, 3, "d", "4.0", 1000, L, None, 0),
    # Two tied for 1st of two paying places: the 3rd is out.
    ({"a": 1, "b": 1, "c": 3}, 2, "c", "4.0", 1000, L, None, 0),
]


@pytest.mark.parametrize(
    ("placings", "places", "pick", "odds", "stake", "result", "dead_heat", "payout"), OUTRIGHT_CASES
)
def test_outrights(
    placings: dict[str, int],
    places: int,
    pick: str,
    odds: str,
    stake: int,
    result: Result,
    dead_heat: DeadHeat | None,
    payout: int,
) -> None:
    event = finished(None, None, placings=placings)
    graded = grade("outright", pick, event=event, odds=odds, market=MarketFacts(kind="outright", paying_places=places))
    assert isinstance(graded, Grade)
    assert graded.dead_heat == dead_heat
    assert single(graded, stake) == (result, payout)


def test_dead_heat_factor_is_exact() -> None:
    event = finished(None, None, placings={"a": 1, "b": 1, "c": 1})
    graded = grade("outright", "a", event=event, odds="5.0", market=MarketFacts(kind="outright", paying_places=2))
    assert isinstance(graded, Grade)
    assert graded.factor == Fraction(10, 3)
    assert graded.factor_display == Decimal("3.3333333333")


# --- voids ----------------------------------------------------------------------------------------


def void_reason(graded: Grade | Ungraded) -> VoidReason | None:
    assert isinstance(graded, Grade), graded
    assert graded.result is Result.VOID
    assert single(graded) == (Result.VOID, 1000)
    return graded.void_reason


def test_cancelled_event_is_void_without_any_result() -> None:
    event = finished(None, None, status=EventStatus.CANCELLED, actual_start=None)
    for kind, pick in [("moneyline", "home"), ("1x2", "draw"), ("total", "over"), ("outright", "x")]:
        assert void_reason(grade(kind, pick, event=event, line="2.5")) is VoidReason.CANCELLED


@pytest.mark.parametrize("status", [EventStatus.POSTPONED, EventStatus.ABANDONED])
def test_postponed_or_abandoned_waits_48_hours_then_voids(status: EventStatus) -> None:
    event = finished(None, None, status=status, completed_at=None, disrupted=True)
    at_deadline = grade("moneyline", "home", event=event, now=DEADLINE)
    assert isinstance(at_deadline, Ungraded)
    assert at_deadline.awaiting and at_deadline.reason is UngradedReason.AWAITING_RESULT
    after = grade("moneyline", "home", event=event, now=DEADLINE + timedelta(microseconds=1))
    assert void_reason(after) is VoidReason.NOT_COMPLETED


def test_disrupted_event_completed_exactly_at_48_hours_is_graded() -> None:
    event = finished(2, 1, disrupted=True, completed_at=DEADLINE)
    assert single(grade("moneyline", "home", event=event, odds="1.50", now=DEADLINE + timedelta(days=1))) == (W, 1500)


def test_disrupted_event_completed_one_second_late_is_void() -> None:
    event = finished(2, 1, disrupted=True, completed_at=DEADLINE + timedelta(seconds=1))
    assert void_reason(grade("moneyline", "home", event=event, now=DEADLINE + timedelta(days=1))) == (
        VoidReason.NOT_COMPLETED
    )


def test_disrupted_event_without_completion_time_is_ungraded() -> None:
    graded = grade("moneyline", "home", event=finished(2, 1, disrupted=True, completed_at=None))
    assert isinstance(graded, Ungraded) and graded.reason is UngradedReason.MISSING_COMPLETION_TIME


def test_a_long_event_that_was_never_disrupted_is_graded() -> None:
    # A five-day match ends long after 48 h; only a postponed or abandoned event runs out of time.
    event = finished(1, 0, completed_at=KICKOFF + timedelta(days=5))
    assert single(grade("moneyline", "home", event=event, odds="1.70")) == (W, 1700)


def test_operator_market_void() -> None:
    live = finished(None, None, status=EventStatus.LIVE)
    market = MarketFacts(kind="total", voided=True)
    assert void_reason(grade("total", "over", event=live, line="2.5", market=market)) is VoidReason.MARKET_VOID


def test_late_bet_at_the_actual_start_is_void() -> None:
    event = finished(2, 1, actual_start=KICKOFF + timedelta(minutes=3))
    late = grade("moneyline", "home", event=event, accepted_at=KICKOFF + timedelta(minutes=3))
    assert void_reason(late) is VoidReason.LATE_BET
    in_time = grade("moneyline", "home", event=event, accepted_at=KICKOFF + timedelta(minutes=3, microseconds=-1))
    assert single(in_time) == (W, 2000)


def test_late_bet_is_void_even_without_scores() -> None:
    late = grade("moneyline", "home", event=finished(None, None), accepted_at=KICKOFF + timedelta(minutes=10))
    assert void_reason(late) is VoidReason.LATE_BET


def test_in_play_bet_after_the_start_is_graded() -> None:
    graded = grade("moneyline", "away", event=finished(0, 1), accepted_at=KICKOFF + timedelta(minutes=50), in_play=True)
    assert single(graded) == (W, 2000)


def test_operator_void_window_is_half_open() -> None:
    window = VoidWindow(start=PLACED - timedelta(minutes=5), end=PLACED)
    market = MarketFacts(kind="moneyline", void_windows=(window,))
    event = finished(2, 1)
    assert void_reason(grade("moneyline", "home", event=event, market=market, accepted_at=window.start)) == (
        VoidReason.VOID_WINDOW
    )
    assert single(grade("moneyline", "home", event=event, market=market, accepted_at=window.end)) == (W, 2000)


# --- what cannot be graded is never a PUSH ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "pick", "line", "event", "reason"),
    [
        ("moneyline", "home", None, finished(None, 1), UngradedReason.MISSING_SCORES),
        ("total", "over", "2.5", finished(2, None), UngradedReason.MISSING_SCORES),
        ("moneyline", "home", None, finished(-1, 0), UngradedReason.INVALID_SCORES),
        ("moneyline", "draw", None, finished(1, 1), UngradedReason.UNKNOWN_SIDE),
        ("spread", "over", "1.5", finished(1, 1), UngradedReason.UNKNOWN_SIDE),
        ("1x2", "sideways", None, finished(1, 1), UngradedReason.UNKNOWN_SIDE),
        ("corners", "home", None, finished(1, 1), UngradedReason.UNKNOWN_MARKET),
        ("spread", "home", None, finished(1, 1), UngradedReason.INVALID_LINE),
        ("spread", "home", "0.1", finished(1, 1), UngradedReason.INVALID_LINE),
        ("total", "over", "-0.5", finished(1, 1), UngradedReason.INVALID_LINE),
        ("outright", "b", None, finished(None, None, placings={"a": 1}), UngradedReason.MISSING_PLACING),
        ("outright", "a", None, finished(None, None, placings={"a": 0}), UngradedReason.INVALID_PLACING),
        ("moneyline", "home", None, finished(1, 0, status="suspended"), UngradedReason.UNKNOWN_STATUS),
        ("moneyline", "home", None, finished(1, 0, actual_start=None), UngradedReason.MISSING_START_TIME),
        ("moneyline", "home", None, finished(None, None, status=EventStatus.LIVE), UngradedReason.AWAITING_RESULT),
        ("moneyline", "home", None, finished(None, None, status="scheduled"), UngradedReason.AWAITING_RESULT),
    ],
)
def test_ungradable(kind: str, pick: str, line: str | None, event: EventFacts, reason: UngradedReason) -> None:
    market = MarketFacts(kind=kind, paying_places=2)
    graded = grade(kind, pick, event=event, line=line, market=market)
    assert isinstance(graded, Ungraded)
    assert graded.reason is reason
    assert graded.awaiting is (reason is UngradedReason.AWAITING_RESULT)
    assert graded.detail


def test_missing_placing_with_one_paying_place_left_open() -> None:
    event = finished(None, None, placings={"a": 1, "b": 1})
    market = MarketFacts(kind="outright", paying_places=3)
    graded = grade("outright", "c", event=event, market=market)
    assert isinstance(graded, Ungraded) and graded.reason is UngradedReason.MISSING_PLACING


def test_invalid_odds_are_ungraded() -> None:
    graded = grade("moneyline", "home", event=finished(2, 1), odds="1.00")
    assert isinstance(graded, Ungraded) and graded.reason is UngradedReason.INVALID_ODDS


def test_in_play_leg_needs_no_start_time() -> None:
    graded = grade("moneyline", "home", event=finished(2, 1, actual_start=None), in_play=True)
    assert single(graded) == (W, 2000)


def test_statuses_from_storage_are_plain_strings() -> None:
    event = finished(2, 1, status="finished")
    assert single(grade("moneyline", "home", event=event, odds="1.25")) == (W, 1250)
    assert void_reason(grade("moneyline", "home", event=finished(2, 1, status="cancelled"))) is VoidReason.CANCELLED


# --- properties -----------------------------------------------------------------------------------

scores = st.integers(min_value=0, max_value=12)
quarter_lines = st.integers(min_value=-40, max_value=40).map(lambda q: Decimal(q) / 4)


def outcome_factor(kind: str, pick: str, line: Decimal, home: int, away: int, odds: Decimal) -> Fraction:
    outcome = selection_outcome(
        event=finished(home, away), market=MarketFacts(kind=kind), pick=pick, line=line, now=NOW
    )
    assert not isinstance(outcome, Ungraded)
    return outcome.factor(odds)


@given(home=scores, away=scores, line=quarter_lines, side=st.sampled_from(["home", "away"]))
def test_quarter_spread_is_the_average_of_its_two_halves(home: int, away: int, line: Decimal, side: str) -> None:
    odds = Decimal("1.87")
    factor = outcome_factor("spread", side, line, home, away, odds)
    if is_quarter_line(line):
        lower = outcome_factor("spread", side, line - Decimal("0.25"), home, away, odds)
        upper = outcome_factor("spread", side, line + Decimal("0.25"), home, away, odds)
        assert factor == (lower + upper) / 2
    else:
        assert factor in (Fraction(0), Fraction(1), Fraction(odds))


@given(home=scores, away=scores, quarters=st.integers(min_value=0, max_value=60))
def test_over_and_under_mirror_each_other(home: int, away: int, quarters: int) -> None:
    line = Decimal(quarters) / 4
    mirror = {W: L, HW: HL, P: P, HL: HW, L: W}
    over = selection_outcome(
        event=finished(home, away), market=MarketFacts(kind="total"), pick="over", line=line, now=NOW
    )
    under = selection_outcome(
        event=finished(home, away), market=MarketFacts(kind="total"), pick="under", line=line, now=NOW
    )
    assert not isinstance(over, Ungraded) and not isinstance(under, Ungraded)
    assert under.result is mirror[over.result]


@given(home=scores, away=scores, line=quarter_lines)
def test_home_and_away_handicaps_mirror_each_other(home: int, away: int, line: Decimal) -> None:
    mirror = {W: L, HW: HL, P: P, HL: HW, L: W}
    market = MarketFacts(kind=MarketKind.SPREAD)
    home_side = selection_outcome(event=finished(home, away), market=market, pick="home", line=line, now=NOW)
    away_side = selection_outcome(event=finished(home, away), market=market, pick="away", line=-line, now=NOW)
    assert not isinstance(home_side, Ungraded) and not isinstance(away_side, Ungraded)
    assert away_side.result is mirror[home_side.result]


@pytest.mark.parametrize(
    ("event", "kind", "pick", "line", "places"),
    [
        (finished(None, None, placings={"a": 1, "b": 1, "c": 1}), "outright", "b", None, 2),
        (finished(1, 1), "spread", "away", "+0.25", 1),
        (finished(1, 1, status="cancelled"), "total", "over", "2.5", 1),
    ],
)
def test_a_grade_rebuilds_from_what_storage_keeps(
    event: EventFacts, kind: str, pick: str, line: str | None, places: int
) -> None:
    # Storage keeps the result and the dead heat's counts (a 10-place decimal cannot hold 10/3).
    market = MarketFacts(kind=kind, paying_places=places)
    graded = grade(kind, pick, event=event, line=line, market=market, odds="5.0")
    assert isinstance(graded, Grade)
    stored = (str(graded.result), graded.dead_heat, graded.void_reason)
    rebuilt = Outcome(Result(stored[0]), dead_heat=stored[1], void_reason=stored[2]).grade(Decimal("5.0"))
    assert rebuilt == graded


@pytest.mark.parametrize(("tied", "places"), [(2, 2), (3, 0), (3, 4), (1, 1)])
def test_a_dead_heat_must_reduce(tied: int, places: int) -> None:
    with pytest.raises(ValueError, match="dead heat"):
        DeadHeat(tied=tied, places=places)
