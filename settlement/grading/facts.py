"""The vocabulary of grading: results, market kinds, sides, the facts the grader reads, and what
it answers (`Outcome`, `Grade`, `Ungraded`). Pure data; the rules are in `rules.py`."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
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

    def __post_init__(self) -> None:
        # Rebuilt from storage too: a reduction that is no reduction must not pass.
        if not 1 <= self.places < self.tied:
            raise ValueError(f"a dead heat shares 1 to {self.tied - 1} places among {self.tied}, not {self.places}")


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
