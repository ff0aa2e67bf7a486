"""Paying an accepted offer, inside the accepting transaction: the slip's compare-and-set, the
ledger entry `cashout:<offer>`, the liability freed, the auto-cashout target followed, the events."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from betting.models import BetLeg, BetSlip
from betting.pricing import MoneySplit
from betting.services.limits import liability_release
from core.errors import Conflict
from ledger.currencies import money
from ledger.models import Account
from ledger.services import Entry, Line, entries_post, system_account, user_lines
from realtime.cashout.data import fraction_text, offer_data, slip_data
from realtime.cashout.models import AutoCashout, CashoutOffer
from realtime.models import OutboxEvent
from realtime.outbox import events_emit
from settlement.cashout_pricing import cashout_partial, cashout_split


@dataclass(frozen=True)
class CashedOut:
    offer: CashoutOffer
    slip: BetSlip  # as it is now: cashed out, or live with the stake left
    transaction_id: int
    event: OutboxEvent  # cashout.success


def cashout_pay(slip: BetSlip, legs: list[BetLeg], offer: CashoutOffer, *, now: datetime) -> CashedOut:
    """Inside the caller's transaction, with the slip and the offer locked: pay the offer."""
    exposure_before = slip.potential_payout - slip.stake
    guard = {"pk": slip.pk, "status": BetSlip.Status.PENDING, "stake": offer.stake}
    if offer.partial:
        partial = cashout_partial(
            kind=slip.type,
            stake=slip.stake,
            offer=offer.value,
            fraction=offer.fraction,
            odds_placed=[leg.odds_placed for leg in legs],
            system_k=slip.system_k,
        )
        if (partial.paid, partial.stake_cashed) != (offer.amount, offer.stake_cashed):
            raise RuntimeError(f"offer {offer.pk} no longer prices to what it offered")
        moved = BetSlip.objects.filter(**guard, potential_payout=slip.potential_payout).update(
            stake=partial.stake_remaining, potential_payout=partial.potential_payout_remaining
        )
        slip.stake, slip.potential_payout = partial.stake_remaining, partial.potential_payout_remaining
        split = partial.split
    else:
        moved = BetSlip.objects.filter(**guard).update(
            status=BetSlip.Status.CASHED_OUT, payout=offer.amount, settled_at=now
        )
        slip.status, slip.payout, slip.settled_at = BetSlip.Status.CASHED_OUT, offer.amount, now
        split = cashout_split(stake=slip.stake, offer=offer.amount)
    if moved != 1:  # the row lock makes this impossible; a settlement that skipped it must not pay twice
        raise Conflict("The slip changed while it was being cashed out.", code="slip_not_pending")

    _auto_follow(slip, offer, now=now)
    tx_id = _money_move(slip, offer, split)
    exposure_after = slip.potential_payout - slip.stake if offer.partial else 0
    liability_release(
        selection_ids=[leg.selection_id for leg in legs],
        currency=slip.currency,
        exposure=exposure_before - exposure_after,
    )
    accepted = CashoutOffer.objects.filter(pk=offer.pk, status=CashoutOffer.Status.OFFERED).update(
        status=CashoutOffer.Status.ACCEPTED, decided_at=now, transaction_id=tx_id
    )
    if accepted != 1:
        raise RuntimeError(f"offer {offer.pk} left OFFERED under its lock")
    offer.status, offer.decided_at, offer.transaction_id = CashoutOffer.Status.ACCEPTED, now, tx_id

    success = {
        **offer_data(offer),
        "status": slip.status,
        "transaction": tx_id,
        "stake_left": money(slip.stake if offer.partial else 0, slip.currency),
    }
    del success["expires_at"]
    user = slip.user_id
    events = events_emit(
        [
            ("cashout.success", success, user, ""),
            ("bet.updated", slip_data(slip, reason="cashout.partial" if offer.partial else "cashout"), user, ""),
            (
                "balance.updated",
                {"currency": slip.currency, "reason": "cashout", "transaction": tx_id, "amount": offer.amount},
                user,
                "",
            ),
        ]
    )
    return CashedOut(offer=offer, slip=slip, transaction_id=tx_id, event=events[0])


def _money_move(slip: BetSlip, offer: CashoutOffer, split: MoneySplit) -> int:
    """RULES.md "Settlement money" for the part cashed: escrow -> wallet up to the stake cashed,
    house -> wallet above it, escrow -> house what an offer below the stake keeps. One entry,
    netted per account; the user's side pays a receivable first."""
    currency = slip.currency
    escrow = system_account(kind=Account.Kind.BETS_ESCROW, currency=currency).pk
    house = system_account(kind=Account.Kind.HOUSE, currency=currency).pk
    lines = [Line(escrow, -(split.escrow_to_wallet + split.escrow_to_house), currency)]
    house_net = split.escrow_to_house - split.house_to_wallet
    if house_net:
        lines.append(Line(house, house_net, currency))
    lines.extend(user_lines(user_id=slip.user_id, currency=currency, delta=offer.amount))
    key = f"cashout:{offer.pk}"
    entry = Entry(
        key=key,
        kind="cashout",
        lines=lines,
        reference=f"slip:{slip.pk}",
        metadata={
            "slip": slip.pk,
            "offer": offer.pk,
            "fraction": fraction_text(offer.fraction),
            "stake_cashed": offer.stake_cashed,
            "escrow_to_wallet": split.escrow_to_wallet,
            "house_to_wallet": split.house_to_wallet,
            "escrow_to_house": split.escrow_to_house,
        },
    )
    return entries_post([entry]).id_for(key)


def _auto_follow(slip: BetSlip, offer: CashoutOffer, *, now: datetime) -> None:
    """A partial cashout scales the slip's auto-cashout target with its stake; a full one ends it."""
    armed = AutoCashout.objects.filter(slip_id=slip.pk, status=AutoCashout.Status.ARMED)
    if not offer.partial:
        armed.update(status=AutoCashout.Status.LAPSED, updated_at=now)
        return
    for auto in armed.select_for_update():
        target = max(1, math.ceil(auto.target * slip.stake / offer.stake))
        AutoCashout.objects.filter(pk=auto.pk).update(target=target, updated_at=now)
