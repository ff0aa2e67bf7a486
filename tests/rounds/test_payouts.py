"""The pool's arithmetic, by example and by property (RULES.md, Up/Down daily rounds)."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from betting.rounds.payouts import pool_split, settle_pool

stakes_strategy = st.lists(
    st.tuples(st.sampled_from(["UP", "DOWN"]), st.integers(min_value=1, max_value=10**12)), min_size=1, max_size=60
)


def _stakes(pairs: list[tuple[str, int]]) -> list[tuple[int, str, int]]:
    return [(i, side, amount) for i, (side, amount) in enumerate(pairs, start=1)]


@settings(max_examples=200, deadline=None)
@given(pairs=stakes_strategy, result=st.sampled_from(["UP", "DOWN", "VOID"]), fee_bps=st.integers(0, 10_000))
def test_money_is_conserved_exactly(pairs: list[tuple[str, int]], result: str, fee_bps: int) -> None:
    stakes = _stakes(pairs)
    settled = settle_pool(stakes=stakes, result=result, fee_bps=fee_bps)
    total = sum(amount for _, _, amount in stakes)
    assert settled.paid + settled.split.fee + settled.dust == total
    assert settled.dust >= 0
    assert all(payout >= 0 for payout in settled.payouts.values())


@settings(max_examples=200, deadline=None)
@given(pairs=stakes_strategy, result=st.sampled_from(["UP", "DOWN"]), fee_bps=st.integers(0, 10_000))
def test_shares_are_proportional_to_stakes_within_one_unit(
    pairs: list[tuple[str, int]], result: str, fee_bps: int
) -> None:
    stakes = _stakes(pairs)
    settled = settle_pool(stakes=stakes, result=result, fee_bps=fee_bps)
    split = settled.split
    if split.refund:
        return  # a one-sided pool: covered by test_one_sided_pools_refund_everyone
    winners = [(bet_id, amount) for bet_id, side, amount in stakes if side == result]
    for bet_id, amount in winners:
        exact = Fraction(split.distributable * amount, split.winner_pool)
        share = settled.payouts[bet_id] - amount
        assert 0 <= exact - share < 1
    for bet_id, side, _ in stakes:
        if side != result:
            assert settled.payouts[bet_id] == 0
    # Flooring loses less than a unit per winner, and all of it is dust.
    assert settled.dust < len(winners)


@settings(max_examples=200, deadline=None)
@given(pairs=stakes_strategy, result=st.sampled_from(["UP", "DOWN"]), fee_bps=st.integers(0, 10_000))
def test_fee_never_exceeds_fee_bps_of_the_loser_pool(pairs: list[tuple[str, int]], result: str, fee_bps: int) -> None:
    settled = settle_pool(stakes=_stakes(pairs), result=result, fee_bps=fee_bps)
    split = settled.split
    assert 0 <= split.fee <= Fraction(split.loser_pool * fee_bps, 10_000)
    assert Fraction(split.loser_pool * fee_bps, 10_000) - split.fee < 1


@given(amounts=st.lists(st.integers(1, 10**9), min_size=1, max_size=20), side=st.sampled_from(["UP", "DOWN"]))
def test_one_sided_pools_refund_everyone(amounts: list[int], side: str) -> None:
    stakes = [(i, side, a) for i, a in enumerate(amounts)]
    for result in ("UP", "DOWN"):
        settled = settle_pool(stakes=stakes, result=result, fee_bps=100)
        assert settled.split.result == "VOID"
        assert settled.split.fee == 0 and settled.dust == 0
        assert [settled.payouts[i] for i, _, _ in stakes] == amounts


def test_worked_example() -> None:
    # UP 100 + 200, DOWN 100; UP wins; fee 1% of 100 = 1; 99 shared 1:2 -> 33 and 66.
    settled = settle_pool(stakes=[(1, "UP", 100), (2, "UP", 200), (3, "DOWN", 100)], result="UP", fee_bps=100)
    assert settled.payouts == {1: 133, 2: 266, 3: 0}
    assert (settled.split.fee, settled.dust) == (1, 0)


def test_flooring_leaves_dust() -> None:
    # Three equal winners share 10: 3 each and 1 unit of dust; the fee on 10 at 1% floors to 0.
    settled = settle_pool(stakes=[(1, "UP", 1), (2, "UP", 1), (3, "UP", 1), (4, "DOWN", 10)], result="UP", fee_bps=100)
    assert settled.payouts == {1: 4, 2: 4, 3: 4, 4: 0}
    assert (settled.split.fee, settled.dust) == (0, 1)


def test_fee_floors() -> None:
    split = pool_split(up_pool=1_000_000, down_pool=1_999_999, result="UP", fee_bps=100)
    assert split.fee == 19_999  # floor(19,999.99)
    assert split.distributable == 1_980_000


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        pool_split(up_pool=1, down_pool=1, result="SIDEWAYS", fee_bps=100)
    with pytest.raises(ValueError):
        pool_split(up_pool=1, down_pool=1, result="UP", fee_bps=10_001)
