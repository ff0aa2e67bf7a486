from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from betting.odds import (
    OddsFormatError,
    american_to_decimal,
    decimal_to_american,
    decimal_to_fractional,
    format_odds,
    fractional_to_decimal,
    parse_american,
    parse_decimal,
)

decimal_odds = st.decimals(min_value=Decimal("1.0001"), max_value=Decimal("1000"), places=4)


@pytest.mark.parametrize(
    ("american", "decimal"),
    [
        ("-110", "1.9091"),
        ("+150", "2.5000"),
        ("150", "2.5000"),
        ("+100", "2.0000"),
        ("-100", "2.0000"),
        ("-250", "1.4000"),
        ("+1000", "11.0000"),
        ("even", "2.0000"),
    ],
)
def test_american_strings_from_the_feed(american: str, decimal: str) -> None:
    assert american_to_decimal(parse_american(american)) == Decimal(decimal)


@pytest.mark.parametrize("bad", ["", "abc", "+50", "-99", "nan", "inf", "1e400"])
def test_american_strings_that_are_not_odds(bad: str) -> None:
    with pytest.raises(OddsFormatError):
        american_to_decimal(parse_american(bad))


@given(st.integers(min_value=100, max_value=100_000))
def test_positive_american_round_trips(american: int) -> None:
    assert decimal_to_american(american_to_decimal(american)) == american


@given(st.integers(min_value=100, max_value=1000))
def test_negative_american_round_trips(american: int) -> None:
    # 4 decimal places tell whole American prices apart down to -1000.
    assert decimal_to_american(american_to_decimal(-american)) == (100 if american == 100 else -american)


@given(decimal_odds)
def test_decimal_to_american_and_back_stays_close(odds: Decimal) -> None:
    back = american_to_decimal(decimal_to_american(odds))
    # A whole American price is within half a unit: relative error of the decimal stays small.
    assert abs(back - odds) <= max(Decimal("0.0001"), (odds - 1) * Decimal("0.01"), (odds - 1) ** 2 * Decimal("0.006"))


@given(st.integers(min_value=1, max_value=5000), st.integers(min_value=1, max_value=50))
def test_fractional_round_trips(numerator: int, denominator: int) -> None:
    fraction = Fraction(numerator, denominator)
    if fraction > 999:
        return
    odds = fractional_to_decimal(fraction.numerator, fraction.denominator)
    assert decimal_to_fractional(odds) == (fraction.numerator, fraction.denominator)


@given(decimal_odds)
def test_decimal_format_round_trips(odds: Decimal) -> None:
    assert parse_decimal(format_odds(odds, "decimal")) == odds


@given(decimal_odds)
def test_every_format_renders(odds: Decimal) -> None:
    american = format_odds(odds, "american")
    assert american[0] in "+-" and int(american) != 0
    numerator, denominator = (int(x) for x in format_odds(odds, "fractional").split("/"))
    assert numerator > 0 and 0 < denominator <= 100


@pytest.mark.parametrize(
    ("odds", "american", "fractional"),
    [("1.9091", "-110", "10/11"), ("3.5", "+250", "5/2"), ("2", "+100", "1/1"), ("1.25", "-400", "1/4")],
)
def test_display_formats(odds: str, american: str, fractional: str) -> None:
    assert format_odds(Decimal(odds), "american") == american
    assert format_odds(Decimal(odds), "fractional") == fractional


@pytest.mark.parametrize("bad", ["1", "0.5", "1.00001", "abc", "", "100001", 1.5, True])
def test_decimal_odds_that_are_refused(bad: object) -> None:
    with pytest.raises(OddsFormatError):
        parse_decimal(bad)
