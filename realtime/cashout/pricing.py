"""A slip's legs as the pure pricing sees them (`settlement.cashout_pricing`), and what an offer
for a fraction of the slip pays.

A leg is decided when its selection carries a result (settlement grades selections before it
settles slips) or its market or selection was voided; otherwise it is pending at the selection's
current odds, which exist only while the market and the selection are open and the event has
not ended. A suspended market or selection refuses the cashout; a closed one (the game is over
and awaits its result, or a pre-match market once the game went live) has no price.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings

from betting.models import BetLeg, BetSlip, Event, Market, Selection
from settlement.cashout_pricing import (
    CashoutLeg,
    CashoutQuote,
    CashoutRefused,
    Refusal,
    cashout_partial,
    cashout_quote,
)
from settlement.grading import EventFacts, MarketFacts, Outcome, Result, Ungraded, leg_grade

WHOLE = Decimal(1)
PRICED_EVENT_STATUSES = frozenset({Event.Status.SCHEDULED, Event.Status.LIVE})


@dataclass(frozen=True)
class Priced:
    """An offer for `fraction` of the slip: `value` is the whole slip's offer, `amount` what is
    paid for the fraction, `stake_cashed` the stake that leaves escrow."""

    fraction: Decimal
    value: int
    amount: int
    stake_cashed: int
    quote: CashoutQuote


def legs_of(slip_ids: Iterable[int]) -> dict[int, list[BetLeg]]:
    """The legs of these slips with their selection, market and event (one query)."""
    legs: dict[int, list[BetLeg]] = defaultdict(list)
    rows = BetLeg.objects.filter(slip_id__in=list(slip_ids)).select_related("selection__market__event")
    for leg in rows.order_by("slip_id", "pk"):
        legs[leg.slip_id].append(leg)
    return legs


def cashout_leg(slip: BetSlip, leg: BetLeg) -> CashoutLeg:
    selection = leg.selection
    market = selection.market
    event = market.event
    odds = leg.odds_placed
    if selection.result:
        grade = leg_grade(
            outcome=Outcome(Result(selection.result)),
            odds=odds,
            accepted_at=slip.accepted_at or slip.placed_at,
            in_play=leg.live,
            event=EventFacts(
                status=event.status,
                scheduled_start=event.scheduled_start,
                disrupted=False,
                actual_start=event.actual_start,
            ),
            market=MarketFacts(
                kind=market.kind, paying_places=market.paying_places, voided=market.status == Market.Status.VOID
            ),
        )
        if isinstance(grade, Ungraded):
            return CashoutLeg(odds_placed=odds)  # no price: refused as unavailable
        return CashoutLeg(odds_placed=odds, grade=grade)
    if (
        selection.status == Selection.Status.VOID
        or market.status == Market.Status.VOID
        or event.status == Event.Status.CANCELLED
    ):
        return CashoutLeg(odds_placed=odds, grade=Outcome(Result.VOID).grade(odds))
    if market.status == Market.Status.SUSPENDED or selection.status == Selection.Status.SUSPENDED:
        return CashoutLeg(odds_placed=odds, suspended=True)
    if (
        market.status == Market.Status.OPEN
        and selection.status == Selection.Status.OPEN
        and event.status in PRICED_EVENT_STATUSES
    ):
        return CashoutLeg(odds_placed=odds, odds_now=selection.odds)
    return CashoutLeg(odds_placed=odds)


def slip_quote(slip: BetSlip, legs: Sequence[BetLeg]) -> CashoutQuote | CashoutRefused:
    """The whole slip's offer now (the slip's status is the caller's to check)."""
    return cashout_quote(
        kind=slip.type,
        stake=slip.stake,
        legs=[cashout_leg(slip, leg) for leg in legs],
        system_k=slip.system_k,
        margin_bps=settings.CASHOUT_MARGIN_BPS,
        potential_payout=slip.potential_payout,
    )


def slip_priced(slip: BetSlip, legs: Sequence[BetLeg], *, fraction: Decimal) -> Priced | CashoutRefused:
    """An offer for `fraction` (0 < fraction <= 1) of the slip, or why there is none. Raises
    `ValidationFailed` when the fraction leaves no stake on the slip."""
    quote = slip_quote(slip, legs)
    if isinstance(quote, CashoutRefused):
        return quote
    if fraction == WHOLE:
        return Priced(fraction=WHOLE, value=quote.offer, amount=quote.offer, stake_cashed=slip.stake, quote=quote)
    partial = cashout_partial(
        kind=slip.type,
        stake=slip.stake,
        offer=quote.offer,
        fraction=fraction,
        odds_placed=[leg.odds_placed for leg in legs],
        system_k=slip.system_k,
    )
    if partial.paid < 1:
        return CashoutRefused(Refusal.NO_VALUE, "that part of the slip is worth less than one minor unit")
    return Priced(
        fraction=fraction, value=quote.offer, amount=partial.paid, stake_cashed=partial.stake_cashed, quote=quote
    )
