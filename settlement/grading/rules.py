"""The grading rules of RULES.md "Grading one selection", on the facts of `facts.py`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from settlement.grading.facts import (
    SIDES,
    VOID_AFTER_HOURS,
    DeadHeat,
    EventFacts,
    EventStatus,
    Grade,
    MarketFacts,
    MarketKind,
    Outcome,
    Result,
    Side,
    Ungraded,
    UngradedReason,
    VoidReason,
)


def is_quarter_line(line: Decimal) -> bool:
    """A line ending in .25 or .75 (either sign): graded as two half-stakes."""
    return (line * 4) % 2 != 0


def _void(reason: VoidReason) -> Outcome:
    return Outcome(Result.VOID, void_reason=reason)


def selection_outcome(
    *,
    event: EventFacts,
    market: MarketFacts,
    pick: str,
    line: Decimal | None = None,
    now: datetime,
    void_after_hours: int = VOID_AFTER_HOURS,
) -> Outcome | Ungraded:
    """What happened to one selection.

    `pick` is a `Side` value, or for an outright the competitor's key in `event.placings`. `line` is
    the line on the selection's own side (spread: `m = own + L - other`) or the points line (total).
    `now` decides whether a postponed event has run out of time.
    """
    if market.voided:
        return _void(VoidReason.MARKET_VOID)
    try:
        status = EventStatus(event.status)
    except ValueError:
        return Ungraded(UngradedReason.UNKNOWN_STATUS, f"event status {event.status!r}")
    if status is EventStatus.CANCELLED:
        return _void(VoidReason.CANCELLED)

    deadline = event.scheduled_start + timedelta(hours=void_after_hours)
    if status in (EventStatus.POSTPONED, EventStatus.ABANDONED):
        if now > deadline:
            return _void(VoidReason.NOT_COMPLETED)
        return Ungraded(
            UngradedReason.AWAITING_RESULT, f"event {status}: void unless completed by {deadline.isoformat()}"
        )
    if status is not EventStatus.FINISHED:
        return Ungraded(UngradedReason.AWAITING_RESULT, f"event {status}")
    if event.disrupted:
        if event.completed_at is None:
            return Ungraded(
                UngradedReason.MISSING_COMPLETION_TIME, "event was postponed or abandoned; when it finished is unknown"
            )
        if event.completed_at > deadline:
            return _void(VoidReason.NOT_COMPLETED)

    try:
        kind = MarketKind(market.kind)
    except ValueError:
        return Ungraded(UngradedReason.UNKNOWN_MARKET, f"market kind {market.kind!r}")
    if kind is MarketKind.OUTRIGHT:
        return _outright(event.placings, pick, market.paying_places)

    try:
        side = Side(pick)
    except ValueError:
        side = None
    if side is None or side not in SIDES[kind]:
        return Ungraded(UngradedReason.UNKNOWN_SIDE, f"{pick!r} on a {kind} market")

    home, away = event.home_score, event.away_score
    if home is None or away is None:
        return Ungraded(UngradedReason.MISSING_SCORES, f"scores {home!r}-{away!r}")
    if not all(type(score) is int and score >= 0 for score in (home, away)):
        return Ungraded(UngradedReason.INVALID_SCORES, f"scores {home!r}-{away!r}")

    own, other = (away, home) if side is Side.AWAY else (home, away)
    match kind:
        case MarketKind.MONEYLINE:
            return Outcome(_by_margin(Decimal(own - other)))
        case MarketKind.ONE_X_TWO:
            winner = Side.HOME if home > away else Side.AWAY if away > home else Side.DRAW
            return Outcome(Result.WON if side is winner else Result.LOST)
        case MarketKind.SPREAD:
            checked = _checked_line(line)
            if isinstance(checked, Ungraded):
                return checked
            return _graded_on_line(checked, lambda at: own + at - other)
        case MarketKind.TOTAL:
            checked = _checked_line(line)
            if isinstance(checked, Ungraded):
                return checked
            if checked < 0:
                return Ungraded(UngradedReason.INVALID_LINE, f"total line {checked} is negative")
            total = home + away
            if side is Side.OVER:
                return _graded_on_line(checked, lambda at: total - at)
            return _graded_on_line(checked, lambda at: at - total)
    raise ValueError(f"no grading for {kind}")  # pragma: no cover - every kind is matched above


def _checked_line(line: Decimal | None) -> Decimal | Ungraded:
    if line is None:
        return Ungraded(UngradedReason.INVALID_LINE, "the market has no line")
    if not isinstance(line, Decimal) or not line.is_finite() or (line * 4) % 1 != 0:
        return Ungraded(UngradedReason.INVALID_LINE, f"line {line!r} is not a multiple of 0.25")
    return line


def _by_margin(margin: Decimal) -> Result:
    if margin > 0:
        return Result.WON
    if margin < 0:
        return Result.LOST
    return Result.PUSH


# Two half-stakes on lines half a point apart, with whole-number scores: one of them is a half
# line and cannot push, so WON+LOST and PUSH+PUSH never occur.
_QUARTER_HALVES: dict[frozenset[Result], Result] = {
    frozenset({Result.WON}): Result.WON,
    frozenset({Result.WON, Result.PUSH}): Result.HALF_WON,
    frozenset({Result.PUSH, Result.LOST}): Result.HALF_LOST,
    frozenset({Result.LOST}): Result.LOST,
}


def _graded_on_line(line: Decimal, margin_at: Callable[[Decimal], Decimal]) -> Outcome:
    """`margin_at(L)` is `m` at line `L`; a quarter line is two half-stakes on `L -/+ 0.25`."""
    if not is_quarter_line(line):
        return Outcome(_by_margin(margin_at(line)))
    quarter = Decimal("0.25")
    halves = frozenset({_by_margin(margin_at(line - quarter)), _by_margin(margin_at(line + quarter))})
    return Outcome(_QUARTER_HALVES[halves])


def _outright(placings: Mapping[str, int], pick: str, paying_places: int) -> Outcome | Ungraded:
    if type(paying_places) is not int or paying_places < 1:
        return Ungraded(UngradedReason.INVALID_PLACING, f"paying places {paying_places!r}")
    for competitor, placed in placings.items():
        if type(placed) is not int or placed < 1:
            return Ungraded(UngradedReason.INVALID_PLACING, f"{competitor!r} placed {placed!r}")
    place = placings.get(pick)
    if place is None:
        # Left out of the placings: a loser only if the paying places are known to be filled.
        filled = sum(1 for p in placings.values() if p <= paying_places)
        if filled >= paying_places:
            return Outcome(Result.LOST)
        return Ungraded(
            UngradedReason.MISSING_PLACING,
            f"no placing for {pick!r} and only {filled} of {paying_places} paying places are known",
        )
    tied = sum(1 for p in placings.values() if p == place)
    places = min(tied, paying_places - place + 1)  # the paying places the tied group shares
    if places <= 0:
        return Outcome(Result.LOST)
    if places == tied:
        return Outcome(Result.WON)
    return Outcome(Result.WON, dead_heat=DeadHeat(tied=tied, places=places))


def leg_grade(
    *,
    outcome: Outcome | Ungraded,
    odds: Decimal,
    accepted_at: datetime,
    in_play: bool,
    event: EventFacts,
    market: MarketFacts,
) -> Grade | Ungraded:
    """One bet's leg on a selection whose `outcome` is known (`selection_outcome`).

    Void first: the selection's own void, then an operator's void window around `accepted_at`,
    then a pre-match bet (`in_play=False`) accepted at or after the actual start. A void needs no
    result, so it wins over `Ungraded`. A graded pre-match leg needs `event.actual_start`: without
    it a late bet could not be told apart, so the leg stays ungraded.
    """
    if isinstance(outcome, Outcome) and outcome.result == Result.VOID:
        return outcome.grade(odds)
    if market.void_windows and any(window.covers(accepted_at) for window in market.void_windows):
        return _void(VoidReason.VOID_WINDOW).grade(odds)
    if not in_play and event.actual_start is not None and accepted_at >= event.actual_start:
        return _void(VoidReason.LATE_BET).grade(odds)
    if isinstance(outcome, Ungraded):
        return outcome
    if not in_play and event.actual_start is None:
        return Ungraded(UngradedReason.MISSING_START_TIME, "a pre-match bet needs the event's actual start")
    if not isinstance(odds, Decimal) or not odds.is_finite() or odds <= 1:
        return Ungraded(UngradedReason.INVALID_ODDS, f"odds {odds!r}")
    return outcome.grade(odds)


def selection_grade(
    *,
    event: EventFacts,
    market: MarketFacts,
    pick: str,
    line: Decimal | None = None,
    odds: Decimal,
    accepted_at: datetime,
    in_play: bool = False,
    now: datetime,
    void_after_hours: int = VOID_AFTER_HOURS,
) -> Grade | Ungraded:
    """Grade one bet's leg from scratch: `selection_outcome` then `leg_grade`."""
    outcome = selection_outcome(
        event=event, market=market, pick=pick, line=line, now=now, void_after_hours=void_after_hours
    )
    return leg_grade(outcome=outcome, odds=odds, accepted_at=accepted_at, in_play=in_play, event=event, market=market)
