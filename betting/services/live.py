"""Live bets after their delay: re-validate, then accept (AWAITING -> PENDING) or reject
(AWAITING -> REJECTED, the stake back to the wallet under `bet:reject:<slip id>`).

Re-validation runs the placement rules again on the current catalogue: market and event still
open, and the odds policy against the odds the player asked for. Odds that moved within the
policy reprice the slip (new potential payout, liability moved by the difference).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import structlog
from django.db import transaction
from django.utils import timezone

from betting.models import BetLeg, BetSlip
from betting.pricing import slip_potential_payout
from betting.services.limits import daily_stake_release, liability_release, liability_reserve, stake_day
from betting.services.rules import RuleRefused, leg_check, liability_cap, odds_accepted, stake_limits_check
from core.errors import ApplicationError
from core.metrics import LIVE_BETS
from ledger.models import Account
from ledger.services import Entry, credit_lines, entries_post, system_account
from realtime.outbox import events_emit

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _Verdict:
    accepted: bool
    reason: str = ""
    odds: tuple[Decimal, ...] = ()


def slip_live_confirm(*, slip_id: int, now: datetime | None = None) -> BetSlip:
    """Decide an AWAITING slip whose delay has passed; anything else is returned unchanged."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        slip = BetSlip.objects.select_for_update().get(pk=slip_id)
        if slip.status != BetSlip.Status.AWAITING or (slip.accept_after and slip.accept_after > now):
            return slip
        legs = list(slip.legs.select_related("selection__market__event").order_by("pk"))
        verdict = _revalidate(slip, legs, now=now)
        if verdict.accepted and verdict.odds != tuple(leg.odds_placed for leg in legs):
            verdict = _reprice(slip, legs, verdict.odds)
        if verdict.accepted:
            _accept(slip, now=now)
        else:
            _reject(slip, legs, reason=verdict.reason, now=now)
    LIVE_BETS.labels("accepted" if verdict.accepted else "rejected").inc()
    log.info("bet.live_decided", slip=slip.pk, status=slip.status, reason=verdict.reason)
    return slip


def live_bets_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """AWAITING slips whose delay has passed (the sweep catches any the delayed task missed)."""
    now = now or timezone.now()
    return list(
        BetSlip.objects.filter(status=BetSlip.Status.AWAITING, accept_after__lte=now)
        .order_by("accept_after")
        .values_list("pk", flat=True)[:limit]
    )


def _revalidate(slip: BetSlip, legs: list[BetLeg], *, now: datetime) -> _Verdict:
    odds: list[Decimal] = []
    for leg in legs:
        try:
            leg_check(leg.selection, now=now)
        except ApplicationError as exc:
            return _Verdict(False, exc.code)
        current = leg.selection.odds
        if not odds_accepted(slip.accept_odds, leg.odds_requested, current):
            return _Verdict(False, "odds_changed")
        odds.append(current)
    return _Verdict(True, odds=tuple(odds))


def _reprice(slip: BetSlip, legs: list[BetLeg], odds: tuple[Decimal, ...]) -> _Verdict:
    """Move the slip to the odds of now; its liability moves by the difference."""
    potential = slip_potential_payout(kind=slip.type, stake=slip.stake, odds=odds, system_k=slip.system_k)
    selection_ids = [leg.selection_id for leg in legs]
    delta = potential - slip.potential_payout
    try:
        stake_limits_check(stake=slip.stake, currency=slip.currency, potential_payout=potential)
        with transaction.atomic():  # a refused reservation leaves no partial update behind
            if delta > 0:
                liability_reserve(
                    selection_ids=selection_ids,
                    currency=slip.currency,
                    exposure=delta,
                    cap=liability_cap(slip.currency),
                )
            else:
                liability_release(selection_ids=selection_ids, currency=slip.currency, exposure=-delta)
    except RuleRefused as exc:
        return _Verdict(False, exc.code)
    for leg, new_odds in zip(legs, odds, strict=True):
        if leg.odds_placed != new_odds:
            BetLeg.objects.filter(pk=leg.pk).update(odds_placed=new_odds)
            leg.odds_placed = new_odds
    BetSlip.objects.filter(pk=slip.pk).update(potential_payout=potential)
    slip.potential_payout = potential
    return _Verdict(True, odds=odds)


def _accept(slip: BetSlip, *, now: datetime) -> None:
    moved = BetSlip.objects.filter(pk=slip.pk, status=BetSlip.Status.AWAITING).update(
        status=BetSlip.Status.PENDING, accepted_at=now
    )
    if not moved:  # impossible under the row lock; say so loudly rather than pay twice
        raise RuntimeError(f"slip {slip.pk} left AWAITING under its lock")
    slip.status, slip.accepted_at = BetSlip.Status.PENDING, now
    events_emit([("bet.updated", _update_data(slip), slip.user_id, "")])


def _reject(slip: BetSlip, legs: list[BetLeg], *, reason: str, now: datetime) -> None:
    moved = BetSlip.objects.filter(pk=slip.pk, status=BetSlip.Status.AWAITING).update(
        status=BetSlip.Status.REJECTED, reject_reason=reason[:64]
    )
    if not moved:
        raise RuntimeError(f"slip {slip.pk} left AWAITING under its lock")
    slip.status, slip.reject_reason = BetSlip.Status.REJECTED, reason
    # Rows in the order placement takes them (daily stake, wallet, liability), so a rejection
    # and a placement by the same player cannot deadlock.
    daily_stake_release(user_id=slip.user_id, currency=slip.currency, day=stake_day(slip.placed_at), stake=slip.stake)
    escrow = system_account(kind=Account.Kind.BETS_ESCROW, currency=slip.currency)
    key = f"bet:reject:{slip.pk}"
    lines = credit_lines(user_id=slip.user_id, currency=slip.currency, amount=slip.stake, source_account_id=escrow.pk)
    tx_id = entries_post(
        [Entry(key=key, kind="bet.reject", lines=lines, reference=f"slip:{slip.pk}", metadata={"slip": slip.pk})]
    ).id_for(key)
    liability_release(
        selection_ids=[leg.selection_id for leg in legs],
        currency=slip.currency,
        exposure=slip.potential_payout - slip.stake,
    )
    events_emit(
        [
            ("bet.updated", _update_data(slip), slip.user_id, ""),
            (
                "balance.updated",
                {"currency": slip.currency, "reason": "bet.rejected", "transaction": tx_id, "amount": slip.stake},
                slip.user_id,
                "",
            ),
        ]
    )


def _update_data(slip: BetSlip) -> dict[str, object]:
    return {
        "slip": slip.pk,
        "status": slip.status,
        "reason": slip.reject_reason,
        "potential_payout": slip.potential_payout,
        "currency": slip.currency,
    }
