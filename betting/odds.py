"""Odds formats. Decimal odds (4 places) are what the platform stores and prices with; American
and fractional odds are input and display formats only.

- American `+150` is 2.5 and `-110` is 1.9091 (rounded half up to 4 places).
- Fractional `10/11` is 1.9091; displayed as the nearest fraction with a denominator up to 100.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

ODDS_PLACES = Decimal("0.0001")
MIN_DECIMAL_ODDS = Decimal("1.0001")
MAX_DECIMAL_ODDS = Decimal("100000")
MAX_AMERICAN = (MAX_DECIMAL_ODDS - 1) * 100
FRACTION_MAX_DENOMINATOR = 100
FORMATS = ("decimal", "american", "fractional")


class OddsFormatError(ValueError):
    """A value that is not odds in the expected format."""


def quantize(value: Decimal) -> Decimal:
    return value.quantize(ODDS_PLACES, rounding=ROUND_HALF_UP)


def parse_decimal(value: object) -> Decimal:
    """Decimal odds from a string or number sent by a client or an operator."""
    if isinstance(value, float | bool):
        raise OddsFormatError('decimal odds travel as strings, e.g. "1.91"')
    try:
        odds = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise OddsFormatError(f"{value!r} is not decimal odds") from None
    if not odds.is_finite() or not MIN_DECIMAL_ODDS <= odds <= MAX_DECIMAL_ODDS:
        raise OddsFormatError(f"decimal odds must be between {MIN_DECIMAL_ODDS} and {MAX_DECIMAL_ODDS}")
    if odds != quantize(odds):
        raise OddsFormatError(f"{value!r} has more than 4 decimal places")
    return quantize(odds)


def parse_american(value: object) -> Decimal:
    """American odds as a feed sends them (`"-110"`, `"+150"`, `"150"`) to an exact Decimal."""
    text = str(value).strip()
    if text.lower() in ("even", "evens", "ev"):
        return Decimal(100)
    try:
        american = Decimal(text)
    except (InvalidOperation, ValueError):
        raise OddsFormatError(f"{value!r} is not American odds") from None
    if not american.is_finite() or not 100 <= abs(american) <= MAX_AMERICAN:
        raise OddsFormatError(f"{value!r} is not American odds (100 to {MAX_AMERICAN} either way)")
    return american


def american_to_decimal(american: Decimal | int | str) -> Decimal:
    a = parse_american(american)
    if a > 0:
        return quantize(1 + a / 100)
    return quantize(1 + Decimal(100) / -a)


def decimal_to_american(odds: Decimal) -> int:
    """The nearest whole American odds (`2.5` -> 150, `1.9091` -> -110); evens are +100."""
    if odds <= 1:
        raise OddsFormatError("decimal odds must be above 1")
    if odds >= 2:
        value = (odds - 1) * 100
    else:
        value = Decimal(-100) / (odds - 1)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fractional_to_decimal(numerator: int, denominator: int) -> Decimal:
    if numerator <= 0 or denominator <= 0:
        raise OddsFormatError("fractional odds are two positive whole numbers")
    return quantize(1 + Decimal(numerator) / Decimal(denominator))


def decimal_to_fractional(odds: Decimal, *, max_denominator: int = FRACTION_MAX_DENOMINATOR) -> tuple[int, int]:
    """The nearest fraction with a small denominator (`1.9091` -> 10/11, `3.5` -> 5/2)."""
    if odds <= 1:
        raise OddsFormatError("decimal odds must be above 1")
    fraction = Fraction(odds - 1).limit_denominator(max_denominator)
    if fraction <= 0:  # odds a hair above 1 round to 0/1: show the smallest fraction instead
        fraction = Fraction(1, max_denominator)
    return fraction.numerator, fraction.denominator


def format_odds(odds: Decimal, fmt: str) -> str:
    """Odds as a client asked to see them."""
    if fmt == "american":
        american = decimal_to_american(odds)
        return f"+{american}" if american > 0 else str(american)
    if fmt == "fractional":
        numerator, denominator = decimal_to_fractional(odds)
        return f"{numerator}/{denominator}"
    return str(quantize(odds))
