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
exactly, so a payout is exact arithmetic floored once (`betting.pricing`).

Everything public is imported from here: `from settlement.grading import selection_outcome, ...`.
"""

from settlement.grading.facts import (
    REFUNDED,
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
    VoidWindow,
)
from settlement.grading.rules import is_quarter_line, leg_grade, selection_grade, selection_outcome

__all__ = [
    "REFUNDED",
    "SIDES",
    "VOID_AFTER_HOURS",
    "DeadHeat",
    "EventFacts",
    "EventStatus",
    "Grade",
    "MarketFacts",
    "MarketKind",
    "Outcome",
    "Result",
    "Side",
    "Ungraded",
    "UngradedReason",
    "VoidReason",
    "VoidWindow",
    "is_quarter_line",
    "leg_grade",
    "selection_grade",
    "selection_outcome",
]
