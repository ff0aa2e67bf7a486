"""Grading one selection (RULES.md "Grading one selection"): pure rules, no database, no models.

Two steps, so that settlement grades each selection once and then prices every bet on it cheaply:

* `selection_outcome(...)`: what happened to a selection. The same for every bet on it: the market
  kind, the pick and its line, the event's state and result. No odds, no bet.
* `leg_grade(...)`: one bet's leg on that selection: the voids that depend on when the bet was
  accepted (late bet, an operator's void window), then the factor at the leg's own odds.

`selection_grade(...)` does both in one call.

Anything that cannot be graded comes back as `Ungraded` with a reason, never as a PUSH: either the
event has no final result yet (`awaiting`), or the data is missing or makes no sense.

Factors are exact rationals (`fractions.Fraction`), not `Decimal`: a dead heat pays `o * p / n`,
and with `n = 3` no decimal holds that. A 28-digit Decimal factor for 10/3, times a stake of 3,
gives 9.999...9 and floors to 9 where the rule pays 10. Decimal odds convert to `Fraction`
exactly, so a payout is exact arithmetic floored once (`settlement.payouts`).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

# RULES.md: a postponed or abandoned event is void unless completed within this many hours of its
# scheduled start. Callers pass `settings.VOID_AFTER_HOURS` where the setting exists.
VOID_AFTER_HOURS = 48


class Result(StrEnum):
    """The values match `betting.Selection.Result`."""

    WON = "won"
    HALF_WON = "half_won"
    PUSH = "push"
    VOID = "void"
    HALF_LOST = "half_lost"
    LOST = "lost"


REFUNDED = frozenset({Result.PUSH, Result.VOID})


class MarketKind(StrEnum):
    """The values match `betting.Market.Kind`."""

    MONEYLINE = "moneyline"
    ONE_X_TWO = "1x2"
    SPREAD = "spread"
    TOTAL = "total"
    OUTRIGHT = "outright"


class Side(StrEnum):
    """The pick of a non-outright market; the values match `betting.Selection.Outcome`."""

    HOME = "home"
    AWAY = "away"
    DRAW = "draw"
    OVER = "over"
    UNDER = "under"


SIDES: dict[MarketKind, frozenset[Side]] = {
    MarketKind.MONEYLINE: frozenset({Side.HOME, Side.AWAY}),
    MarketKind.ONE_X_TWO: frozenset({Side.HOME, Side.DRAW, Side.AWAY}),
    MarketKind.SPREAD: frozenset({Side.HOME, Side.AWAY}),
    MarketKind.TOTAL: frozenset({Side.OVER, Side.UNDER}),
}


class EventStatus(StrEnum):
    """The values match `betting.Event.Status`."""

    SCHEDULED = "scheduled"
    LIVE = "live"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    POSTPONED = "postponed"
    ABANDONED = "abandoned"


class VoidReason(StrEnum):
    CANCELLED = "cancelled"
    NOT_COMPLETED = "not_completed"  # postponed or abandoned, not completed within VOID_AFTER_HOURS
    MARKET_VOID = "market_void"  # an operator voided the market
    VOID_WINDOW = "void_window"  # an operator voided the market's bets placed inside a time window
    LATE_BET = "late_bet"  # a pre-match bet accepted after the event actually started


class UngradedReason(StrEnum):
    AWAITING_RESULT = "awaiting_result"  # not finished yet, or postponed and still inside the window
    UNKNOWN_STATUS = "unknown_status"
    UNKNOWN_MARKET = "unknown_market"
    UNKNOWN_SIDE = "unknown_side"
    MISSING_SCORES = "missing_scores"
    INVALID_SCORES = "invalid_scores"
    INVALID_LINE = "invalid_line"
    MISSING_PLACING = "missing_placing"
    INVALID_PLACING = "invalid_placing"
    MISSING_COMPLETION_TIME = "missing_completion_time"
    MISSING_START_TIME = "missing_start_time"
    INVALID_ODDS = "invalid_odds"


@dataclass(frozen=True, slots=True)
class Ungraded:
    """Not gradable now. Settlement leaves the leg pending and `diagnose_settlement` shows why."""

    reason: UngradedReason
    detail: str

    @property
    def awaiting(self) -> bool:
        """True when only time is missing (no final result yet); False when the data is wrong."""
        return self.reason is UngradedReason.AWAITING_RESULT


@dataclass(frozen=True, slots=True)
class DeadHeat:
    """`tied` competitors share `places` paying places (1 <= places < tied): pays `o * places / tied`."""

    tied: int
    places: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to a selection, whatever the odds and whoever bet on it."""

    result: Result
    dead_heat: DeadHeat | None = None  # only with WON
    void_reason: VoidReason | None = None  # only with VOID

    def factor(self, odds: Decimal) -> Fraction:
        """The factor that multiplies the stake at decimal odds `odds` (the table of RULES.md)."""
        return _factor(self.result, self.dead_heat, odds)

    def grade(self, odds: Decimal) -> Grade:
        """This outcome on a leg placed at `odds`; also rebuilds a leg's grade from a stored result."""
        return Grade(self.result, self.factor(odds), odds, dead_heat=self.dead_heat, void_reason=self.void_reason)


# Settlement prices many legs on few (result, odds) pairs: converting each time costs more than
# the rest of a slip's payout.
@functools.lru_cache(maxsize=65_536)
def _factor(result: Result, dead_heat: DeadHeat | None, odds: Decimal) -> Fraction:
    match result:
        case Result.WON if dead_heat is not None:
            numerator, denominator = odds.as_integer_ratio()
            return Fraction(numerator * dead_heat.places, denominator * dead_heat.tied)
        case Result.WON:
            numerator, denominator = odds.as_integer_ratio()
            return Fraction(numerator, denominator)
        case Result.HALF_WON:
            numerator, denominator = odds.as_integer_ratio()
            return Fraction(numerator + denominator, 2 * denominator)  # (o + 1) / 2
        case Result.PUSH | Result.VOID:
            return Fraction(1)
        case Result.HALF_LOST:
            return Fraction(1, 2)
        case Result.LOST:
            return Fraction(0)
    raise ValueError(f"unknown result {result!r}")


@dataclass(frozen=True, slots=True)
class Grade:
    """A graded leg: its result and the exact factor on its stake at the odds it was placed at."""

    result: Result
    factor: Fraction
    odds: Decimal
    dead_heat: DeadHeat | None = None
    void_reason: VoidReason | None = None

    @property
    def refunded(self) -> bool:
        """VOID or PUSH: the leg counts 1 in a parlay."""
        return self.result in REFUNDED

    @property
    def factor_display(self) -> Decimal:
        """The factor to 10 places, for display and audit only; money uses `factor`."""
        return (Decimal(self.factor.numerator) / Decimal(self.factor.denominator)).quantize(Decimal("1E-10"))


@dataclass(frozen=True, slots=True, kw_only=True)
class VoidWindow:
    """Bets accepted at `start <= accepted_at < end` are void (an operator's decision)."""

    start: datetime
    end: datetime

    def covers(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True, kw_only=True)
class EventFacts:
    """An event as the grader needs it.

    `scheduled_start` is the start the bets were placed against (the original one if the event was
    rescheduled): the 48 h window runs from it. `disrupted` says the event was postponed or
    abandoned at some point, even if it has since finished: only such an event is voided for not
    completing within the window (a five-day cricket match that never stopped is not).
    `completed_at` is when a finished event ended; it is needed only when `disrupted`.
    `placings` (outrights) maps a competitor key to its finishing place; tied competitors share a
    place (1, 2, 2, 4). A competitor left out finished outside the recorded places.
    """

    status: EventStatus | str
    scheduled_start: datetime
    disrupted: bool
    actual_start: datetime | None = None
    completed_at: datetime | None = None
    home_score: int | None = None
    away_score: int | None = None
    placings: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketFacts:
    """A market as the grader needs it. `kind` may be an unvalidated string from storage."""

    kind: MarketKind | str
    paying_places: int = 1
    voided: bool = False
    void_windows: tuple[VoidWindow, ...] = ()


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
