"""What a bet slip pays (RULES.md "A bet slip's payout") and how its settlement moves the money
("Settlement money"): one implementation for placement (the potential payout), cashout and
settlement. Pure: integers in minor units in, integers out; no database, no models.

Every payout is exact rational arithmetic on the legs' factors, floored to the minor unit ONCE,
at the end. A factor is a `Fraction`: decimal odds convert to it exactly, and a dead heat
`o * p / n` has no finite decimal (10/3 times a stake of 3 must pay 10, not 9).

A system k/n is floored on the sum of its lines, not line by line. The lines are how the stake is
split, not separate payments: the slip makes one payment, and DESIGN.md says a computed payout is
"exact arithmetic, then floored". Flooring each of the C(n,k) lines would round up to C(n,k) - 1
minor units away from the player (a 7/15 system has 6,435 lines) for no rule's sake, and would make
the payout depend on how the lines are grouped. Flooring the sum still never pays more than the
exact value, so the house is never short; what the floor keeps (less than one minor unit) simply
stays with the house, because only whole units ever leave escrow. Placement prices the potential
payout with the same formula, so a slip whose every leg wins pays exactly its potential payout.

Settlement (a layer above) grades legs and passes them here as anything with a `factor` and a
`refunded` flag (`settlement.grading.Grade`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal, localcontext
from enum import StrEnum
from fractions import Fraction
from typing import Protocol

from core.errors import ValidationFailed
from ledger.currencies import validate_amount

MAX_LEGS = 15
MIN_PARLAY_LEGS = 2


class SlipKind(StrEnum):
    """The values match `betting.BetSlip.Type`."""

    SINGLE = "single"
    PARLAY = "parlay"
    SYSTEM = "system"


class SlipStatus(StrEnum):
    """A settled slip's status; the values match `betting.BetSlip.Status`."""

    WON = "won"
    LOST = "lost"
    VOID = "void"


class GradedLeg(Protocol):
    """A graded leg as the payout needs it (`settlement.grading.Grade` is one)."""

    @property
    def factor(self) -> Fraction: ...

    @property
    def refunded(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class SlipPayout:
    status: SlipStatus
    payout: int  # minor units, floored
    numerator: int  # the exact return is numerator / denominator (not reduced)
    denominator: int

    @property
    def exact(self) -> Fraction:
        """The return before flooring: `exact - payout` (< 1) is what the floor kept."""
        return Fraction(self.numerator, self.denominator)


@dataclass(frozen=True, slots=True)
class MoneySplit:
    """The three movements of a settlement (or a cashout), all >= 0.

    `escrow_to_wallet + escrow_to_house == stake` (escrow gives the stake back in full) and
    `escrow_to_wallet + house_to_wallet == payout` (the player receives exactly the payout).
    """

    escrow_to_wallet: int
    house_to_wallet: int
    escrow_to_house: int


def slip_shape_validate(*, kind: SlipKind | str, legs: int, system_k: int | None = None) -> SlipKind:
    """A single has 1 leg, a parlay 2..15, a system k/n has n legs (2..15) and 1 <= k < n.

    Raises `ValidationFailed`. (No two legs from one event is checked where the events are known.)
    """
    try:
        slip_kind = SlipKind(kind)
    except ValueError:
        raise ValidationFailed(f"Unknown slip type {kind!r}.", code="invalid_slip_type") from None
    if slip_kind is SlipKind.SINGLE:
        ok = legs == 1 and system_k is None
    elif slip_kind is SlipKind.PARLAY:
        ok = MIN_PARLAY_LEGS <= legs <= MAX_LEGS and system_k is None
    else:
        ok = 2 <= legs <= MAX_LEGS and system_k is not None and 1 <= system_k < legs
    if not ok:
        raise ValidationFailed(
            f"A {slip_kind} slip cannot have this shape.",
            code="invalid_slip_shape",
            details={"type": str(slip_kind), "legs": legs, "system_k": system_k, "max_legs": MAX_LEGS},
        )
    return slip_kind


def system_line_count(n: int, k: int) -> int:
    return math.comb(n, k)


def system_line_stake(*, stake: int, legs: int, k: int) -> int:
    """The stake on each line of a system k/n: `stake / C(n, k)`, which must divide exactly.

    Raises `ValidationFailed` (code `system_stake_indivisible`) naming the nearest valid stakes.
    """
    slip_shape_validate(kind=SlipKind.SYSTEM, legs=legs, system_k=k)
    validate_amount(stake, field="stake")
    return _line_stake(stake, legs, k)


def _line_stake(stake: int, legs: int, k: int) -> int:
    lines = system_line_count(legs, k)
    line_stake, remainder = divmod(stake, lines)
    if remainder:
        lower = line_stake * lines
        raise ValidationFailed(
            f"A system {k}/{legs} has {lines} lines: the stake must be a multiple of {lines}.",
            code="system_stake_indivisible",
            details={"lines": lines, "stake": stake, "lower": lower or None, "higher": lower + lines},
        )
    return line_stake


def _elementary_symmetric(values: Sequence[int], k: int) -> int:
    """The sum over every k-combination of `values` of their product, in O(n * k)."""
    sums = [1] + [0] * k
    for value in values:
        for j in range(k, 0, -1):
            sums[j] += sums[j - 1] * value
    return sums[k]


def _return_ratio(
    kind: SlipKind | str, stake: int, factors: Sequence[Fraction], system_k: int | None
) -> tuple[int, int]:
    """The exact return as a numerator and a denominator, not reduced.

    Integers rather than `Fraction` products: the same exact value without a gcd at every step
    (the floor is one integer division), several times faster over a settlement of many slips.
    """
    slip_shape_validate(kind=kind, legs=len(factors), system_k=system_k)
    validate_amount(stake, field="stake")
    if system_k is None:
        numerator, denominator = stake, 1
        for factor in factors:
            numerator *= factor.numerator
            denominator *= factor.denominator
        return numerator, denominator
    # A system: every factor over one common denominator D, so each line's product is an
    # integer over D ** k and the lines add up as integers.
    common = math.lcm(*(factor.denominator for factor in factors))
    scaled = [factor.numerator * (common // factor.denominator) for factor in factors]
    return _line_stake(stake, len(factors), system_k) * _elementary_symmetric(scaled, system_k), common**system_k


def exact_return(
    *, kind: SlipKind | str, stake: int, factors: Sequence[Fraction], system_k: int | None = None
) -> Fraction:
    """The slip's exact return before flooring: `stake * product(f)`, or for a system the sum over
    its lines of `line_stake * product(f of the line)`. Validates the shape and the stake."""
    return Fraction(*_return_ratio(kind, stake, factors, system_k))


def slip_payout(
    *, kind: SlipKind | str, stake: int, legs: Sequence[GradedLeg], system_k: int | None = None
) -> SlipPayout:
    """Settle a slip whose every leg is graded.

    Status: VOID when every leg is VOID or PUSH (the stake comes back: each counts 1), LOST when
    the payout is 0, WON otherwise, even when the payout is below the stake (half-lost legs).
    """
    numerator, denominator = _return_ratio(kind, stake, [leg.factor for leg in legs], system_k)
    payout = numerator // denominator
    if all(leg.refunded for leg in legs):
        status = SlipStatus.VOID
    elif payout == 0:
        status = SlipStatus.LOST
    else:
        status = SlipStatus.WON
    return SlipPayout(status=status, payout=payout, numerator=numerator, denominator=denominator)


def slip_potential_payout(
    *, kind: SlipKind | str, stake: int, odds: Sequence[Decimal], system_k: int | None = None
) -> int:
    """What the slip pays if every leg wins at the odds given: the same formula as `slip_payout`."""
    numerator, denominator = _return_ratio(kind, stake, [Fraction(o) for o in odds], system_k)
    return numerator // denominator


def settlement_split(*, stake: int, payout: int) -> MoneySplit:
    """How a stake held in escrow and a payout become ledger movements (RULES.md "Settlement money").

    The stake part returned is `min(stake, payout)`; winnings above the stake come from the house;
    the part of the stake not returned (a loss or a part loss) goes to the house.
    """
    validate_amount(stake, field="stake")
    validate_amount(payout, field="payout", allow_zero=True)
    returned = min(stake, payout)
    return MoneySplit(escrow_to_wallet=returned, house_to_wallet=payout - returned, escrow_to_house=stake - returned)


def total_odds(odds: Sequence[Decimal]) -> Decimal:
    """The combined odds of a parlay, for display (4 places, floored)."""
    with localcontext() as ctx:
        ctx.prec = 400
        product = Decimal(1)
        for value in odds:
            product *= value
        return product.quantize(Decimal("0.0001"), rounding=ROUND_FLOOR)
