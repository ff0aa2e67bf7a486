"""What a slip pays: exact Decimal arithmetic, floored to the minor unit (RULES.md).

A parlay pays `floor(stake * product(odds))`; a system k/n is every k-leg combination as its own
parlay line with `stake / C(n, k)` (the stake must divide exactly), each line floored, summed.
The same functions price a settled slip when the factors of graded legs replace the odds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import ROUND_FLOOR, Decimal, Inexact, localcontext
from itertools import combinations

MAX_LEGS = 15


@contextmanager
def exact() -> Iterator[None]:
    """Decimal arithmetic that never rounds: raises `decimal.Inexact` rather than lose a digit.

    Fifteen odds of 4 places times a stake of 16 digits needs well under 400 digits.
    """
    with localcontext() as ctx:
        ctx.prec = 400
        ctx.traps[Inexact] = True
        yield


def floor_units(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def product(values: Sequence[Decimal]) -> Decimal:
    with exact():
        result = Decimal(1)
        for value in values:
            result *= value
        return result


def parlay_payout(stake: int, factors: Sequence[Decimal]) -> int:
    with exact():
        return floor_units(Decimal(stake) * product(factors))


def system_line_count(n: int, k: int) -> int:
    return math.comb(n, k)


def system_line_stake(stake: int, n: int, k: int) -> int | None:
    """The stake on each line of a system k/n, or None when the stake does not divide exactly."""
    lines = system_line_count(n, k)
    return stake // lines if stake % lines == 0 else None


def system_payout(stake: int, factors: Sequence[Decimal], k: int) -> int:
    n = len(factors)
    line_stake = system_line_stake(stake, n, k)
    if line_stake is None:
        raise ValueError(f"a stake of {stake} does not divide into {system_line_count(n, k)} lines")
    return sum(parlay_payout(line_stake, combo) for combo in combinations(factors, k))


def slip_payout(*, slip_type: str, stake: int, factors: Sequence[Decimal], system_k: int | None = None) -> int:
    """Payout of a single, parlay or system slip given one factor per leg (odds when all win)."""
    if slip_type == "system":
        if system_k is None:
            raise ValueError("a system slip needs k")
        return system_payout(stake, factors, system_k)
    return parlay_payout(stake, factors)


def total_odds(odds: Sequence[Decimal]) -> Decimal:
    """The combined odds of a parlay, for display (4 places, floored)."""
    with localcontext() as ctx:
        ctx.prec = 400
        return product(odds).quantize(Decimal("0.0001"), rounding=ROUND_FLOOR)
