"""What the house offers to buy back a pending slip (RULES.md "Cashout"). Pure: no database.

    V = stake * product(f of decided legs) * product(o_placed / o_now of pending legs)
    offer = floor(V * (1 - margin_bps / 10000)), capped at max_payout - 1, refused below 1

RULES.md names WON legs (f = o_placed) and VOID/PUSH legs (f = 1); a decided leg of any other
kind (half won, half lost, dead heat) enters with its own factor f, which is the same rule. A
system slip is valued line by line, like its payout.

The cap: `max_payout` is what the slip pays if every pending leg wins (decided legs at their f,
pending legs at o_placed), floored like a payout; the offer is at most `max_payout - 1`, so it is
always strictly below anything the slip could still pay, and below the potential payout fixed at
placement (a decided leg's f never exceeds its odds); a caller that passes the slip's stored
`potential_payout` gets the lower of the two as the cap. The cap only binds when the live odds
are close to 1 or the margin is 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from betting.pricing import MoneySplit, SlipKind, exact_return, settlement_split, slip_potential_payout
from core.errors import ValidationFailed
from ledger.currencies import validate_amount
from settlement.grading import Grade, Result

DEFAULT_MARGIN_BPS = 500  # RULES.md: CASHOUT_MARGIN_BPS
BPS = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class CashoutLeg:
    """A leg as cashout sees it: decided (`grade`) or pending at the selection's current odds."""

    odds_placed: Decimal
    grade: Grade | None = None
    odds_now: Decimal | None = None
    suspended: bool = False  # the leg's market is suspended


class Refusal(StrEnum):
    LEG_LOST = "leg_lost"
    MARKET_SUSPENDED = "market_suspended"
    PRICE_UNAVAILABLE = "price_unavailable"  # a pending leg has no current odds (or odds <= 1)
    NOTHING_PENDING = "nothing_pending"  # every leg is decided: the slip settles instead
    NO_VALUE = "no_value"  # the offer would be 0


@dataclass(frozen=True, slots=True)
class CashoutRefused:
    reason: Refusal
    detail: str


@dataclass(frozen=True, slots=True)
class CashoutQuote:
    offer: int  # minor units, what the player is offered
    value: Fraction  # V, before the margin
    max_payout: int  # what the slip pays if every pending leg wins (or its stored potential, if lower)


def _is_odds(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and value > 1


def cashout_quote(
    *,
    kind: SlipKind | str,
    stake: int,
    legs: Sequence[CashoutLeg],
    system_k: int | None = None,
    margin_bps: int = DEFAULT_MARGIN_BPS,
    potential_payout: int | None = None,
) -> CashoutQuote | CashoutRefused:
    """Price a cashout of the whole slip, or say why there is none.

    Refused when a leg is LOST, a leg's market is suspended, a pending leg has no live price,
    no leg is pending, or the offer would be 0. `stake` is the slip's current stake (after any
    partial cashout); `potential_payout`, the one stored on the slip, caps the offer too when it
    is lower than the computed maximum. Raises `ValidationFailed` on a malformed slip or margin.
    """
    if type(margin_bps) is not int or not 0 <= margin_bps < BPS:
        raise ValidationFailed(f"Cashout margin {margin_bps!r} bps is out of range.", code="invalid_margin")
    for leg in legs:
        if not _is_odds(leg.odds_placed):
            raise ValidationFailed(f"Placed odds {leg.odds_placed!r} are not odds.", code="invalid_odds")

    if any(leg.grade is not None and leg.grade.result == Result.LOST for leg in legs):
        return CashoutRefused(Refusal.LEG_LOST, "a leg has lost")
    if any(leg.suspended for leg in legs):
        return CashoutRefused(Refusal.MARKET_SUSPENDED, "a leg's market is suspended")
    if all(leg.grade is not None for leg in legs):
        return CashoutRefused(Refusal.NOTHING_PENDING, "every leg is decided")

    now_factors: list[Fraction] = []
    best_factors: list[Fraction] = []
    for leg in legs:
        if leg.grade is not None:
            now_factors.append(leg.grade.factor)
            best_factors.append(leg.grade.factor)
        elif leg.odds_now is not None and _is_odds(leg.odds_now):
            now_factors.append(Fraction(leg.odds_placed) / Fraction(leg.odds_now))
            best_factors.append(Fraction(leg.odds_placed))
        else:
            return CashoutRefused(Refusal.PRICE_UNAVAILABLE, "a pending leg has no current price")

    value = exact_return(kind=kind, stake=stake, factors=now_factors, system_k=system_k)
    max_payout = math.floor(exact_return(kind=kind, stake=stake, factors=best_factors, system_k=system_k))
    if potential_payout is not None:
        max_payout = min(max_payout, potential_payout)
    offer = min(math.floor(value * (BPS - margin_bps) / BPS), max_payout - 1)
    if offer < 1:
        return CashoutRefused(Refusal.NO_VALUE, "the slip is worth less than one minor unit")
    return CashoutQuote(offer=offer, value=value, max_payout=max_payout)


def cashout_split(*, stake: int, offer: int) -> MoneySplit:
    """The ledger movements of a full cashout: the same shape as a settlement paying `offer`."""
    return settlement_split(stake=stake, payout=offer)


@dataclass(frozen=True, slots=True)
class PartialCashout:
    paid: int  # to the player now
    stake_cashed: int  # leaves escrow now: stake_cashed + stake_remaining == stake
    stake_remaining: int  # stays on the slip
    potential_payout_remaining: int  # the slip's new potential payout, from stake_remaining
    split: MoneySplit  # settlement_split(stake=stake_cashed, payout=paid)


def cashout_partial(
    *,
    kind: SlipKind | str,
    stake: int,
    offer: int,
    fraction: Decimal,
    odds_placed: Sequence[Decimal],
    system_k: int | None = None,
) -> PartialCashout:
    """Cash out a fraction `q` (0 < q < 1) of a slip whose whole-slip offer is `offer`.

    Integer arithmetic, money conserved exactly:
    * the stake left on the slip is `(1 - q) * stake` floored to a whole number of lines (one minor
      unit for a single or parlay, C(n, k) for a system, so the stake still divides exactly);
      the stake cashed is the rest, `stake - stake_remaining`;
    * the player is paid for the stake actually cashed: `floor(offer * stake_cashed / stake)`.
      That is RULES.md's `floor(q * offer)` whenever `q * stake` is a whole number of lines; when
      it is not, rounding the stake never takes stake from the player without paying for it;
    * the potential payout is recomputed from the remaining stake by the payout formula, so it
      stays exactly what settlement pays if every leg wins.
    Raises `ValidationFailed` when `q` is not inside (0, 1) or leaves no stake on the slip.
    """
    validate_amount(stake, field="stake")
    validate_amount(offer, field="offer")
    if not isinstance(fraction, Decimal) or not fraction.is_finite() or not 0 < fraction < 1:
        raise ValidationFailed(
            "The fraction to cash out must be between 0 and 1.",
            code="invalid_fraction",
            details={"fraction": str(fraction)},
        )
    line = math.comb(len(odds_placed), system_k) if system_k is not None else 1
    stake_remaining = math.floor(stake * (1 - Fraction(fraction)) / line) * line
    if stake_remaining == 0:
        raise ValidationFailed(
            "That fraction leaves no stake on the slip: cash out in full.",
            code="fraction_too_large",
            details={"fraction": str(fraction), "stake": stake},
        )
    stake_cashed = stake - stake_remaining
    paid = offer * stake_cashed // stake
    potential = slip_potential_payout(kind=kind, stake=stake_remaining, odds=odds_placed, system_k=system_k)
    return PartialCashout(
        paid=paid,
        stake_cashed=stake_cashed,
        stake_remaining=stake_remaining,
        potential_payout_remaining=potential,
        split=settlement_split(stake=stake_cashed, payout=paid),
    )
