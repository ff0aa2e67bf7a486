from __future__ import annotations

from decimal import Decimal
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from betting.pricing import parlay_payout, slip_payout, system_line_stake, system_payout, total_odds

D = Decimal


def test_single_floors_to_the_minor_unit() -> None:
    assert slip_payout(slip_type="single", stake=1000, factors=[D("1.9091")]) == 1909
    assert slip_payout(slip_type="single", stake=333, factors=[D("1.5")]) == 499  # 499.5 floored


def test_parlay_multiplies_exactly() -> None:
    assert parlay_payout(1000, [D("1.91"), D("2.05"), D("1.5")]) == 5873  # 5873.25
    assert parlay_payout(1000, [D("1.9091"), D("1.9091")]) == 3644  # 3644.66
    assert total_odds([D("1.91"), D("2.05"), D("1.5")]) == D("5.8732")  # 5.87325


def test_system_two_of_three_is_three_parlays() -> None:
    odds = [D("2"), D("3"), D("1.5")]
    # 300 over 3 lines: 100 each; 100*6 + 100*3 + 100*4.5
    assert system_payout(300, odds, 2) == 600 + 300 + 450
    assert system_line_stake(300, 3, 2) == 100
    assert system_line_stake(301, 3, 2) is None
    with pytest.raises(ValueError, match="does not divide"):
        system_payout(301, odds, 2)


def test_fifteen_leg_parlay_does_not_lose_a_digit() -> None:
    odds = [D("99999.9999")] * 15
    stake = 10**15
    payout = parlay_payout(stake, odds)
    assert payout == stake * 999_999_999**15 // 10**60  # integer arithmetic agrees to the last unit
    assert payout > 10**89


@given(
    st.integers(min_value=1, max_value=10**12),
    st.lists(st.decimals(min_value=D("1.0001"), max_value=D("50"), places=4), min_size=3, max_size=6),
    st.data(),
)
def test_system_is_the_sum_of_its_parlay_lines(stake: int, odds: list[Decimal], data: st.DataObject) -> None:
    n = len(odds)
    k = data.draw(st.integers(min_value=2, max_value=n - 1))
    lines = list(combinations(odds, k))
    line_stake = stake * len(lines)
    assert system_payout(line_stake, odds, k) == sum(parlay_payout(stake, line) for line in lines)
    # Every line at odds above 1 pays back more than its stake.
    assert system_payout(line_stake, odds, k) >= line_stake
