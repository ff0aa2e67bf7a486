"""A slip's payout and the money of its settlement (RULES.md "A bet slip's payout", "Settlement
money"): the one implementation placement (potential payout), cashout and settlement share.
Pure functions: no database. Expected figures are worked by hand in the comments."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from betting.pricing import (
    MAX_LEGS,
    MoneySplit,
    SlipStatus,
    settlement_split,
    slip_payout,
    slip_potential_payout,
    slip_shape_validate,
    system_line_stake,
    total_odds,
)
from core.errors import ValidationFailed
from settlement.grading import DeadHeat, Grade, Outcome, Result


def leg(result: Result, odds: str, dead_heat: DeadHeat | None = None) -> Grade:
    return Outcome(result, dead_heat=dead_heat).grade(Decimal(odds))


W, HW, P, V, HL, L = Result.WON, Result.HALF_WON, Result.PUSH, Result.VOID, Result.HALF_LOST, Result.LOST


# --- singles --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stake", "graded", "status", "payout"),
    [
        (1000, leg(W, "1.91"), SlipStatus.WON, 1910),
        (333, leg(W, "1.91"), SlipStatus.WON, 636),  # 636.03
        (1000, leg(HW, "1.91"), SlipStatus.WON, 1455),  # 1000 * 2.91 / 2
        (1000, leg(P, "1.91"), SlipStatus.VOID, 1000),
        (1000, leg(V, "1.91"), SlipStatus.VOID, 1000),
        (1001, leg(HL, "1.91"), SlipStatus.WON, 500),  # below the stake, still WON
        (1, leg(HL, "1.91"), SlipStatus.LOST, 0),  # 0.5 floors to 0: LOST
        (1000, leg(L, "1.91"), SlipStatus.LOST, 0),
        (1000, leg(W, "1.50", DeadHeat(tied=2, places=1)), SlipStatus.WON, 750),  # 1.5 / 2, below the stake
    ],
)
def test_single(stake: int, graded: Grade, status: SlipStatus, payout: int) -> None:
    settled = slip_payout(kind="single", stake=stake, legs=[graded])
    assert (settled.status, settled.payout) == (status, payout)
    assert 0 <= settled.exact - settled.payout < 1


# --- parlays --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("legs", "status", "payout"),
    [
        # 1000 * 2.0 * 1.8 = 3600, priced on the two winners.
        ([leg(W, "2.0"), leg(W, "1.8")], SlipStatus.WON, 3600),
        # A VOID leg counts 1: 1000 * 2.0 * 1 * 1.8 = 3600.
        ([leg(W, "2.0"), leg(V, "1.5"), leg(W, "1.8")], SlipStatus.WON, 3600),
        # A PUSH leg likewise.
        ([leg(W, "2.0"), leg(P, "3.25"), leg(W, "1.8")], SlipStatus.WON, 3600),
        # HALF_WON counts (1.9 + 1) / 2 = 1.45: 1000 * 1.45 * 2.0 = 2900.
        ([leg(HW, "1.9"), leg(W, "2.0")], SlipStatus.WON, 2900),
        # HALF_LOST counts 1/2: 1000 * 0.5 * 1.5 = 750, below the stake but WON.
        ([leg(HL, "1.9"), leg(W, "1.5")], SlipStatus.WON, 750),
        # A dead heat 10/3 (5.0 * 2/3) times 1.5 times 1.2: 1000 * 6 = 6000 exactly.
        ([leg(W, "5.0", DeadHeat(tied=3, places=2)), leg(W, "1.5"), leg(W, "1.2")], SlipStatus.WON, 6000),
        # Any LOST leg loses the slip, whatever else.
        ([leg(W, "2.0"), leg(L, "1.8"), leg(V, "1.5")], SlipStatus.LOST, 0),
        # Every leg VOID or PUSH: the stake comes back, status VOID.
        ([leg(V, "2.0"), leg(P, "1.8"), leg(V, "1.5")], SlipStatus.VOID, 1000),
        # 1000 * 1.91 * 1.87 * 2.05 = 1000 * 3.5717 * 2.05 = 7321.985
        ([leg(W, "1.91"), leg(W, "1.87"), leg(W, "2.05")], SlipStatus.WON, 7321),
    ],
)
def test_parlay(legs: list[Grade], status: SlipStatus, payout: int) -> None:
    settled = slip_payout(kind="parlay", stake=1000, legs=legs)
    assert (settled.status, settled.payout) == (status, payout)


def test_parlay_floors_once_on_the_product() -> None:
    # 333 * 1.91 * 1.87 = 1189.3761 (exactly): 1189.
    settled = slip_payout(kind="parlay", stake=333, legs=[leg(W, "1.91"), leg(W, "1.87")])
    assert settled.payout == 1189
    assert settled.exact == Fraction(Decimal("1189.3761"))


def test_fifteen_legs_at_most() -> None:
    fifteen = [leg(W, "1.01")] * MAX_LEGS
    # 1000 * 1.01 ** 15 = 1160.9689...: 1160.
    assert slip_payout(kind="parlay", stake=1000, legs=fifteen).payout == 1160
    with pytest.raises(ValidationFailed) as too_many:
        slip_payout(kind="parlay", stake=1000, legs=[*fifteen, leg(W, "1.01")])
    assert too_many.value.code == "invalid_slip_shape"
    with pytest.raises(ValidationFailed):
        slip_payout(kind="parlay", stake=1000, legs=[leg(W, "2.0")])


@pytest.mark.parametrize(
    ("kind", "legs", "k"),
    [("single", 2, None), ("single", 1, 1), ("parlay", 1, None), ("parlay", 3, 2), ("system", 3, 3),
     ("system", 3, 0), ("system", 3, None), ("system", 16, 2), ("teaser", 2, None)],
)  # fmt: skip
def test_slip_shapes_refused(kind: str, legs: int, k: int | None) -> None:
    with pytest.raises(ValidationFailed):
        slip_shape_validate(kind=kind, legs=legs, system_k=k)


@pytest.mark.parametrize("stake", [0, -5, True, 10.0, 10**16])
def test_bad_stakes_refused(stake: object) -> None:
    with pytest.raises(ValidationFailed):
        slip_payout(kind="single", stake=stake, legs=[leg(W, "2.0")])  # type: ignore[arg-type]


# --- system bets ----------------------------------------------------------------------------------


def test_system_2_of_3_one_leg_lost() -> None:
    # Stake 300, C(3,2) = 3 lines of 100. A 2.0 WON, B 3.0 WON, C 1.5 LOST.
    # AB = 100 * 2.0 * 3.0 = 600; AC = 0; BC = 0. Payout 600.
    settled = slip_payout(kind="system", system_k=2, stake=300, legs=[leg(W, "2.0"), leg(W, "3.0"), leg(L, "1.5")])
    assert (settled.status, settled.payout) == (SlipStatus.WON, 600)


def test_system_2_of_3_floors_the_sum_not_each_line() -> None:
    # Stake 300, lines of 100; A 1.95, B 2.15, C 1.85, all WON.
    # AB = 100 * 4.1925 = 419.25; AC = 100 * 3.6075 = 360.75; BC = 100 * 3.9775 = 397.75.
    # Sum = 1177.75: 1177. (Flooring each line would pay 419 + 360 + 397 = 1176.)
    legs = [leg(W, "1.95"), leg(W, "2.15"), leg(W, "1.85")]
    settled = slip_payout(kind="system", system_k=2, stake=300, legs=legs)
    assert settled.payout == 1177
    assert settled.exact == Fraction(117775, 100)


def test_system_2_of_3_with_a_void_leg() -> None:
    # A 2.0 WON, B 3.0 VOID (counts 1), C 1.5 WON: AB = 200, AC = 300, BC = 150. Payout 650.
    settled = slip_payout(kind="system", system_k=2, stake=300, legs=[leg(W, "2.0"), leg(V, "3.0"), leg(W, "1.5")])
    assert (settled.status, settled.payout) == (SlipStatus.WON, 650)


def test_system_2_of_3_below_the_stake_is_still_won() -> None:
    # A 1.5 WON, B 1.5 WON, C LOST: AB = 100 * 2.25 = 225 of a 300 stake.
    settled = slip_payout(kind="system", system_k=2, stake=300, legs=[leg(W, "1.5"), leg(W, "1.5"), leg(L, "4.0")])
    assert (settled.status, settled.payout) == (SlipStatus.WON, 225)


def test_system_2_of_3_two_legs_lost() -> None:
    settled = slip_payout(kind="system", system_k=2, stake=300, legs=[leg(W, "9.0"), leg(L, "1.5"), leg(L, "4.0")])
    assert (settled.status, settled.payout) == (SlipStatus.LOST, 0)


def test_system_3_of_4_one_leg_lost() -> None:
    # Stake 400, C(4,3) = 4 lines of 100. A 2.0, B 1.5, C 3.0 WON; D 2.5 LOST.
    # ABC = 100 * 9.0 = 900; ABD = ACD = BCD = 0. Payout 900.
    legs = [leg(W, "2.0"), leg(W, "1.5"), leg(W, "3.0"), leg(L, "2.5")]
    settled = slip_payout(kind="system", system_k=3, stake=400, legs=legs)
    assert (settled.status, settled.payout) == (SlipStatus.WON, 900)


def test_system_3_of_4_with_half_won_and_void_legs() -> None:
    # A 2.0 WON (2), B 1.9 HALF_WON (1.45), C 1.8 WON (1.8), D 2.2 VOID (1); lines of 100.
    # ABC = 100 * 2 * 1.45 * 1.8 = 522; ABD = 100 * 2 * 1.45 = 290; ACD = 100 * 2 * 1.8 = 360;
    # BCD = 100 * 1.45 * 1.8 = 261. Payout 1433.
    legs = [leg(W, "2.0"), leg(HW, "1.9"), leg(W, "1.8"), leg(V, "2.2")]
    settled = slip_payout(kind="system", system_k=3, stake=400, legs=legs)
    assert (settled.status, settled.payout) == (SlipStatus.WON, 1433)


def test_system_3_of_4_all_void_refunds() -> None:
    legs = [leg(V, "2.0"), leg(P, "1.9"), leg(V, "1.8"), leg(P, "2.2")]
    settled = slip_payout(kind="system", system_k=3, stake=400, legs=legs)
    assert (settled.status, settled.payout) == (SlipStatus.VOID, 400)


def test_system_stake_must_divide_into_the_lines() -> None:
    assert system_line_stake(stake=300, legs=3, k=2) == 100
    assert system_line_stake(stake=400, legs=4, k=3) == 100
    assert system_line_stake(stake=6435, legs=15, k=7) == 1
    with pytest.raises(ValidationFailed) as refused:
        system_line_stake(stake=301, legs=3, k=2)
    assert refused.value.code == "system_stake_indivisible"
    assert refused.value.details == {"lines": 3, "stake": 301, "lower": 300, "higher": 303}
    with pytest.raises(ValidationFailed):
        slip_payout(kind="system", system_k=2, stake=301, legs=[leg(W, "2.0")] * 3)


def test_potential_payout_is_the_payout_when_every_leg_wins() -> None:
    odds = [Decimal("1.95"), Decimal("2.15"), Decimal("1.85")]
    assert slip_potential_payout(kind="system", system_k=2, stake=300, odds=odds) == 1177
    assert slip_potential_payout(kind="parlay", stake=333, odds=odds[:2]) == 1396  # 333 * 4.1925 = 1396.1025
    assert slip_potential_payout(kind="single", stake=999, odds=[Decimal("1.01")]) == 1008  # 1008.99


# --- settlement money -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stake", "payout", "split"),
    [
        (1000, 3600, MoneySplit(escrow_to_wallet=1000, house_to_wallet=2600, escrow_to_house=0)),
        (1000, 1000, MoneySplit(escrow_to_wallet=1000, house_to_wallet=0, escrow_to_house=0)),
        (1001, 500, MoneySplit(escrow_to_wallet=500, house_to_wallet=0, escrow_to_house=501)),
        (1000, 0, MoneySplit(escrow_to_wallet=0, house_to_wallet=0, escrow_to_house=1000)),
    ],
)
def test_settlement_split(stake: int, payout: int, split: MoneySplit) -> None:
    assert settlement_split(stake=stake, payout=payout) == split


def test_settlement_split_refuses_nonsense() -> None:
    with pytest.raises(ValidationFailed):
        settlement_split(stake=0, payout=0)
    with pytest.raises(ValidationFailed):
        settlement_split(stake=100, payout=-1)


# --- properties -----------------------------------------------------------------------------------

odds_st = st.integers(min_value=10_001, max_value=500_000).map(lambda n: Decimal(n).scaleb(-4))
results_st = st.sampled_from(list(Result))
dead_heat_st = st.integers(min_value=2, max_value=5).flatmap(
    lambda tied: st.builds(DeadHeat, tied=st.just(tied), places=st.integers(min_value=1, max_value=tied - 1))
)


@st.composite
def legs_st(draw: st.DrawFn, min_size: int, max_size: int) -> list[Grade]:
    legs = []
    for _ in range(draw(st.integers(min_value=min_size, max_value=max_size))):
        result = draw(results_st)
        dead_heat = draw(st.one_of(st.none(), dead_heat_st)) if result is Result.WON else None
        legs.append(leg(result, str(draw(odds_st)), dead_heat))
    return legs


stakes = st.integers(min_value=1, max_value=10**9)


@given(stake=stakes, legs=legs_st(1, 1))
def test_single_payout_never_negative_and_floored(stake: int, legs: list[Grade]) -> None:
    settled = slip_payout(kind="single", stake=stake, legs=legs)
    assert settled.payout >= 0
    assert settled.payout == math.floor(stake * legs[0].factor)
    assert (settled.status is SlipStatus.LOST) == (settled.payout == 0)


@given(stake=stakes, legs=legs_st(2, MAX_LEGS))
def test_parlay_properties(stake: int, legs: list[Grade]) -> None:
    settled = slip_payout(kind="parlay", stake=stake, legs=legs)
    assert settled.payout >= 0
    if any(g.result is Result.LOST for g in legs):
        assert (settled.status, settled.payout) == (SlipStatus.LOST, 0)
    if all(g.refunded for g in legs):
        assert (settled.status, settled.payout) == (SlipStatus.VOID, stake)
    # Removing the VOID/PUSH legs changes nothing: they count 1.
    priced = [g for g in legs if not g.refunded]
    assert settled.exact == stake * math.prod((g.factor for g in priced), start=Fraction(1))


@given(line_stake=st.integers(min_value=1, max_value=10**6), legs=legs_st(3, 7), data=st.data())
def test_system_is_the_sum_of_its_parlay_lines(line_stake: int, legs: list[Grade], data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=1, max_value=len(legs) - 1))
    stake = line_stake * math.comb(len(legs), k)
    settled = slip_payout(kind="system", system_k=k, stake=stake, legs=legs)
    lines = [line_stake * math.prod((g.factor for g in combo), start=Fraction(1)) for combo in combinations(legs, k)]
    assert settled.exact == sum(lines)
    assert settled.payout == math.floor(sum(lines)) >= sum(math.floor(line) for line in lines)
    assert settled.payout >= 0


@given(stake=stakes, payout=st.integers(min_value=0, max_value=10**12))
def test_money_split_sums_to_payout_and_stake(stake: int, payout: int) -> None:
    split = settlement_split(stake=stake, payout=payout)
    assert min(split.escrow_to_wallet, split.house_to_wallet, split.escrow_to_house) >= 0
    assert split.escrow_to_wallet + split.house_to_wallet == payout
    assert split.escrow_to_wallet + split.escrow_to_house == stake
    # The house either pays winnings or keeps stake, never both.
    assert split.house_to_wallet == 0 or split.escrow_to_house == 0


# --- placement's figures --------------------------------------------------------------------------


def test_potential_payout_floors_to_the_minor_unit() -> None:
    assert slip_potential_payout(kind="single", stake=1000, odds=[Decimal("1.9091")]) == 1909
    assert slip_potential_payout(kind="single", stake=333, odds=[Decimal("1.5")]) == 499  # 499.5 floored
    assert (
        slip_potential_payout(kind="parlay", stake=1000, odds=[Decimal("1.91"), Decimal("2.05"), Decimal("1.5")])
        == 5873
    )
    assert slip_potential_payout(kind="parlay", stake=1000, odds=[Decimal("1.9091")] * 2) == 3644  # 3644.66


def test_total_odds_for_display() -> None:
    assert total_odds([Decimal("1.91"), Decimal("2.05"), Decimal("1.5")]) == Decimal("5.8732")  # 5.87325


def test_fifteen_leg_parlay_does_not_lose_a_digit() -> None:
    odds = [Decimal("99999.9999")] * 15
    stake = 10**15
    payout = slip_potential_payout(kind="parlay", stake=stake, odds=odds)
    assert payout == stake * 999_999_999**15 // 10**60  # integer arithmetic agrees to the last unit
    assert payout > 10**89


def test_placement_and_settlement_agree_on_a_system_bet() -> None:
    # The potential payout placement stores is what settlement pays when every leg wins: both
    # floor once on the exact sum of the lines.
    odds = ["1.95", "2.15", "1.85"]
    potential = slip_potential_payout(kind="system", system_k=2, stake=300, odds=[Decimal(o) for o in odds])
    settled = slip_payout(kind="system", system_k=2, stake=300, legs=[leg(W, o) for o in odds])
    assert potential == settled.payout == 1177


@given(
    stake=st.integers(min_value=1, max_value=10**9),
    odds=st.lists(odds_st, min_size=3, max_size=8),
    data=st.data(),
)
def test_potential_payout_is_what_every_leg_winning_pays(stake: int, odds: list[Decimal], data: st.DataObject) -> None:
    n = len(odds)
    k = data.draw(st.integers(min_value=2, max_value=n - 1))
    stake *= math.comb(n, k)
    potential = slip_potential_payout(kind="system", system_k=k, stake=stake, odds=odds)
    assert potential == slip_payout(kind="system", system_k=k, stake=stake, legs=[leg(W, str(o)) for o in odds]).payout
    assert potential >= stake  # every line at odds above 1 pays back more than its stake
