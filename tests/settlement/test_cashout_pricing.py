"""Cashout pricing (RULES.md "Cashout"): the offer, its cap, refusals, and partial cashouts.
Pure functions: no database. Expected figures are worked by hand in the comments."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from betting.pricing import MoneySplit, slip_potential_payout
from core.errors import ValidationFailed
from settlement.cashout_pricing import (
    CashoutLeg,
    CashoutQuote,
    CashoutRefused,
    Refusal,
    cashout_partial,
    cashout_quote,
    cashout_split,
)
from settlement.grading import Outcome, Result


def decided(result: Result, odds: str) -> CashoutLeg:
    return CashoutLeg(odds_placed=Decimal(odds), grade=Outcome(result).grade(Decimal(odds)))


def pending(placed: str, now: str | None, *, suspended: bool = False) -> CashoutLeg:
    return CashoutLeg(
        odds_placed=Decimal(placed), odds_now=Decimal(now) if now is not None else None, suspended=suspended
    )


def quote(kind: str, stake: int, legs: list[CashoutLeg], **kwargs: int) -> CashoutQuote:
    priced = cashout_quote(kind=kind, stake=stake, legs=legs, **kwargs)  # type: ignore[arg-type]
    assert isinstance(priced, CashoutQuote), priced
    return priced


def test_single_whose_odds_shortened() -> None:
    # V = 1000 * 2.00 / 1.50 = 1333.33; offer = floor(1333.33 * 0.95) = floor(1266.67) = 1266.
    priced = quote("single", 1000, [pending("2.00", "1.50")])
    assert (priced.offer, priced.value, priced.max_payout) == (1266, Fraction(4000, 3), 2000)


def test_single_whose_odds_drifted() -> None:
    # V = 1000 * 2.0 / 4.0 = 500; offer = 475.
    assert quote("single", 1000, [pending("2.0", "4.0")]).offer == 475


def test_parlay_with_won_void_and_pending_legs() -> None:
    # V = 1000 * 2.0 (WON) * 1 (VOID) * 3.0 / 2.0 (pending) = 3000; offer = 2850.
    # Max payout = 1000 * 2.0 * 1 * 3.0 = 6000.
    priced = quote("parlay", 1000, [decided(Result.WON, "2.0"), pending("3.0", "2.0"), decided(Result.VOID, "1.7")])
    assert (priced.offer, priced.value, priced.max_payout) == (2850, 3000, 6000)


def test_half_lost_leg_enters_with_its_factor() -> None:
    # V = 1000 * 1/2 * 2.0 / 2.0 = 500; offer = 475; max = 1000 * 1/2 * 2.0 = 1000.
    priced = quote("parlay", 1000, [decided(Result.HALF_LOST, "1.9"), pending("2.0", "2.0")])
    assert (priced.offer, priced.max_payout) == (475, 1000)


def test_system_2_of_3_is_valued_line_by_line() -> None:
    # Stake 300, lines of 100. A WON 2.0 (2), B pending 3.0 now 2.0 (1.5), C pending 1.5 now 1.25 (1.2).
    # V = 100 * (2 * 1.5 + 2 * 1.2 + 1.5 * 1.2) = 100 * 7.2 = 720; offer = 684.
    # Max = 100 * (2 * 3.0 + 2 * 1.5 + 3.0 * 1.5) = 1350.
    legs = [decided(Result.WON, "2.0"), pending("3.0", "2.0"), pending("1.5", "1.25")]
    priced = quote("system", 300, legs, system_k=2)
    assert (priced.offer, priced.value, priced.max_payout) == (684, 720, 1350)


def test_offer_is_capped_one_unit_below_the_max_payout() -> None:
    # Stake 999 at 2.0005, now 1.0001, no margin: V = 1998.4995 / 1.0001 = 1998.2997, floor 1998;
    # max payout = floor(1998.4995) = 1998, so the offer is capped at 1997.
    priced = quote("single", 999, [pending("2.0005", "1.0001")], margin_bps=0)
    assert (priced.offer, priced.max_payout) == (1997, 1998)


def test_margin_is_in_basis_points() -> None:
    # V = 1000 * 2.0 / 1.6 = 1250; 2.5 % margin: floor(1250 * 0.975) = 1218.
    assert quote("single", 1000, [pending("2.0", "1.6")], margin_bps=250).offer == 1218


@pytest.mark.parametrize(
    ("legs", "reason"),
    [
        ([decided(Result.LOST, "2.0"), pending("2.0", "1.8")], Refusal.LEG_LOST),
        ([decided(Result.WON, "2.0"), pending("2.0", "1.8", suspended=True)], Refusal.MARKET_SUSPENDED),
        ([decided(Result.WON, "2.0"), pending("2.0", None)], Refusal.PRICE_UNAVAILABLE),
        ([decided(Result.WON, "2.0"), pending("2.0", "1.00")], Refusal.PRICE_UNAVAILABLE),
        ([decided(Result.WON, "2.0"), decided(Result.VOID, "1.8")], Refusal.NOTHING_PENDING),
    ],
)
def test_refusals(legs: list[CashoutLeg], reason: Refusal) -> None:
    refused = cashout_quote(kind="parlay", stake=1000, legs=legs)
    assert isinstance(refused, CashoutRefused)
    assert refused.reason is reason and refused.detail


def test_no_offer_of_nothing() -> None:
    # V = 1 * 1.01 / 1.5 = 0.67: the offer would be 0.
    refused = cashout_quote(kind="single", stake=1, legs=[pending("1.01", "1.5")])
    assert isinstance(refused, CashoutRefused) and refused.reason is Refusal.NO_VALUE


@pytest.mark.parametrize("margin", [-1, 10_000, "500", 5.0])
def test_margin_out_of_range(margin: object) -> None:
    with pytest.raises(ValidationFailed):
        cashout_quote(kind="single", stake=1000, legs=[pending("2.0", "1.5")], margin_bps=margin)  # type: ignore[arg-type]


def test_full_cashout_money() -> None:
    assert cashout_split(stake=1000, offer=1266) == MoneySplit(
        escrow_to_wallet=1000, house_to_wallet=266, escrow_to_house=0
    )
    assert cashout_split(stake=1000, offer=475) == MoneySplit(
        escrow_to_wallet=475, house_to_wallet=0, escrow_to_house=525
    )


# --- partial cashout ------------------------------------------------------------------------------


def test_partial_quarter_of_a_single() -> None:
    # q = 0.25 of stake 1000, offer 1266: 750 stays, 250 is cashed, paid floor(1266 / 4) = 316.
    # Potential payout of what stays: 750 * 2.0 = 1500. Money: 250 from escrow, 66 from the house.
    part = cashout_partial(
        kind="single", stake=1000, offer=1266, fraction=Decimal("0.25"), odds_placed=[Decimal("2.0")]
    )
    assert (part.paid, part.stake_cashed, part.stake_remaining, part.potential_payout_remaining) == (
        316,
        250,
        750,
        1500,
    )
    assert part.split == MoneySplit(escrow_to_wallet=250, house_to_wallet=66, escrow_to_house=0)


def test_partial_rounds_the_stake_left_down_and_pays_for_the_stake_taken() -> None:
    # q = 0.5 of stake 1001: 500.5 would stay; 500 stays, 501 is cashed,
    # paid floor(1267 * 501 / 1001) = floor(634.13) = 634. Potential payout 500 * 2.0 = 1000.
    part = cashout_partial(kind="single", stake=1001, offer=1267, fraction=Decimal("0.5"), odds_placed=[Decimal("2.0")])
    assert (part.paid, part.stake_cashed, part.stake_remaining, part.potential_payout_remaining) == (
        634,
        501,
        500,
        1000,
    )
    assert part.split == MoneySplit(escrow_to_wallet=501, house_to_wallet=133, escrow_to_house=0)


def test_partial_system_keeps_a_stake_that_divides_into_its_lines() -> None:
    # 2/3 system, stake 300 (3 lines), q = 0.335: 199.5 would stay; whole lines of 3 -> 198 stays,
    # 102 is cashed, paid floor(684 * 102 / 300) = floor(232.56) = 232.
    # Potential payout: lines of 66 * (2.0 * 3.0 + 2.0 * 1.5 + 3.0 * 1.5) = 66 * 13.5 = 891.
    odds = [Decimal("2.0"), Decimal("3.0"), Decimal("1.5")]
    part = cashout_partial(kind="system", system_k=2, stake=300, offer=684, fraction=Decimal("0.335"), odds_placed=odds)
    assert (part.paid, part.stake_cashed, part.stake_remaining, part.potential_payout_remaining) == (232, 102, 198, 891)


@pytest.mark.parametrize(
    ("stake", "fraction", "code"),
    [
        (1000, "0", "invalid_fraction"),
        (1000, "1", "invalid_fraction"),
        (1000, "-0.1", "invalid_fraction"),
        (1000, "NaN", "invalid_fraction"),
        (1, "0.5", "fraction_too_large"),  # nothing would stay: cash out in full
    ],
)
def test_partial_refused(stake: int, fraction: str, code: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        cashout_partial(kind="single", stake=stake, offer=900, fraction=Decimal(fraction), odds_placed=[Decimal("2.0")])
    assert refused.value.code == code


# --- properties -----------------------------------------------------------------------------------

odds_st = st.integers(min_value=10_001, max_value=200_000).map(lambda n: Decimal(n).scaleb(-4))
decided_results = st.sampled_from([r for r in Result if r is not Result.LOST])


@st.composite
def cashout_legs(draw: st.DrawFn) -> list[CashoutLeg]:
    legs = [pending(str(draw(odds_st)), str(draw(odds_st)))]
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        placed = str(draw(odds_st))
        if draw(st.booleans()):
            legs.append(decided(draw(decided_results), placed))
        else:
            legs.append(pending(placed, str(draw(odds_st))))
    return legs


@st.composite
def slips(draw: st.DrawFn) -> tuple[str, int, list[CashoutLeg], int | None]:
    legs = draw(cashout_legs())
    if len(legs) == 1:
        return "single", draw(st.integers(min_value=1, max_value=10**8)), legs, None
    if len(legs) >= 2 and draw(st.booleans()):
        k = draw(st.integers(min_value=1, max_value=len(legs) - 1))
        return "system", draw(st.integers(min_value=1, max_value=10**6)) * math.comb(len(legs), k), legs, k
    return "parlay", draw(st.integers(min_value=1, max_value=10**8)), legs, None


margins = st.integers(min_value=0, max_value=9_999)


@given(slip=slips(), margin=margins)
def test_offer_is_positive_and_below_any_payout_the_slip_can_make(
    slip: tuple[str, int, list[CashoutLeg], int | None], margin: int
) -> None:
    kind, stake, legs, k = slip
    priced = cashout_quote(kind=kind, stake=stake, legs=legs, system_k=k, margin_bps=margin)
    if isinstance(priced, CashoutRefused):
        assert priced.reason is Refusal.NO_VALUE
        return
    potential = slip_potential_payout(kind=kind, stake=stake, odds=[leg.odds_placed for leg in legs], system_k=k)
    assert 1 <= priced.offer < priced.max_payout <= potential
    assert priced.offer <= priced.value * (10_000 - margin) / 10_000


@given(slip=slips(), margin=margins, fraction=st.integers(min_value=1, max_value=9_999))
def test_partial_cashout_conserves_money_and_creates_no_value(
    slip: tuple[str, int, list[CashoutLeg], int | None], margin: int, fraction: int
) -> None:
    kind, stake, legs, k = slip
    full = cashout_quote(kind=kind, stake=stake, legs=legs, system_k=k, margin_bps=margin)
    if isinstance(full, CashoutRefused):
        return
    odds = [leg.odds_placed for leg in legs]
    q = Decimal(fraction).scaleb(-4)
    try:
        part = cashout_partial(kind=kind, stake=stake, offer=full.offer, fraction=q, odds_placed=odds, system_k=k)
    except ValidationFailed as refused:
        assert refused.code == "fraction_too_large"
        return
    # Money: the stake splits in two, and what leaves escrow is exactly paid or kept by the house.
    assert part.stake_cashed + part.stake_remaining == stake
    assert part.stake_cashed >= 1 and part.stake_remaining >= 1
    assert part.split.escrow_to_wallet + part.split.escrow_to_house == part.stake_cashed
    assert part.split.escrow_to_wallet + part.split.house_to_wallet == part.paid
    # Value: paid in proportion to the stake taken, and what the player holds afterwards (the cash
    # plus an offer on the rest) is never worth more than the whole offer was.
    assert 0 <= part.paid <= full.offer
    assert part.paid == full.offer * part.stake_cashed // stake
    assert part.stake_remaining <= stake * (1 - Fraction(q))
    rest = cashout_quote(kind=kind, stake=part.stake_remaining, legs=legs, system_k=k, margin_bps=margin)
    rest_offer = rest.offer if isinstance(rest, CashoutQuote) else 0
    assert part.paid + rest_offer <= full.offer
    assert part.potential_payout_remaining == slip_potential_payout(
        kind=kind, stake=part.stake_remaining, odds=odds, system_k=k
    )
    assert part.potential_payout_remaining >= part.stake_remaining


def test_offer_stays_below_a_lower_stored_potential_payout() -> None:
    # As above, but the slip's stored potential payout is 1990: the offer is capped at 1989.
    priced = quote("single", 999, [pending("2.0005", "1.0001")], margin_bps=0, potential_payout=1990)
    assert (priced.offer, priced.max_payout) == (1989, 1990)
    # A higher stored figure changes nothing.
    assert quote("single", 999, [pending("2.0005", "1.0001")], margin_bps=0, potential_payout=5000).offer == 1997
