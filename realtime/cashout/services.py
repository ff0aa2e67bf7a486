"""Cashout offers: made, accepted, expired.

Accepting is one database transaction: the slip's row lock, a re-price, the slip moved by
compare-and-set (PENDING -> CASHED_OUT, or its stake and potential payout scaled for a partial
cashout, guarded by the values priced), the ledger entry `cashout:<offer>`, the liability freed,
the offer marked accepted and the events. A settlement racing it (a compare-and-set from
PENDING) either commits first, and the accept finds the slip settled and refuses, or waits on
the row and finds it no longer PENDING: exactly one of them moves the money.

Locks, always in this order: the slip, its offers, the auto-cashout target, the user's wallet and
receivable, the selections' liability rows.

Refusals that change nothing raise before anything is written. Refusals that close the offer
(expired, price fell, a leg lost, the slip settled) commit that, with a `cashout.error` event
carrying a fresh offer where one can be priced, and raise `CashoutError` after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from betting.models import BetSlip
from core.errors import ApplicationError, NotFound
from core.metrics import CASHOUT_OFFERS, CASHOUT_REFUSALS, CASHOUTS
from realtime.cashout.data import fraction_parse, offer_data
from realtime.cashout.models import CashoutOffer
from realtime.cashout.payment import CashedOut, cashout_pay
from realtime.cashout.pricing import WHOLE, Priced, legs_of, slip_priced
from realtime.models import OutboxEvent
from realtime.outbox import event_emit
from settlement.cashout_pricing import CashoutRefused, Refusal

log = structlog.get_logger(__name__)

REFUSAL_MESSAGES = {
    Refusal.LEG_LOST: "A leg of this slip has lost: it cannot be cashed out.",
    Refusal.MARKET_SUSPENDED: "A market on this slip is suspended: try again when it reopens.",
    Refusal.PRICE_UNAVAILABLE: "A leg of this slip has no live price right now.",
    Refusal.NOTHING_PENDING: "Every leg of this slip is decided: it is being settled.",
    Refusal.NO_VALUE: "This slip is worth less than one minor unit.",
}


class CashoutError(ApplicationError):
    """A refused cashout. `event` is the committed `cashout.error` when the refusal closed the
    offer; `fresh_offer` the offer made in its place, if the slip could be priced."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status_code: int,
        details: dict[str, Any] | None = None,
        event: OutboxEvent | None = None,
        fresh_offer: CashoutOffer | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details, status_code=status_code)
        self.event = event
        self.fresh_offer = fresh_offer


@dataclass(frozen=True)
class Offered:
    offer: CashoutOffer
    event: OutboxEvent | None  # cashout.offered (none for an auto-cashout's own offer)


# --- making an offer --------------------------------------------------------------------------


def cashout_offer_create(
    *, user_id: int, slip_id: int, fraction: Decimal = WHOLE, now: datetime | None = None
) -> Offered:
    """Price the user's slip (or `fraction` of it) and offer that for CASHOUT_OFFER_TTL_S.

    Supersedes the slip's open offer. Raises NotFound (not the user's), Conflict (not pending),
    CashoutError 422 (a leg lost, a market suspended, no price) with nothing written.
    """
    now = now or timezone.now()
    fraction = fraction_parse(fraction)
    with transaction.atomic(durable=True):
        slip = slip_locked(slip_id=slip_id, user_id=user_id)
        pending_check(slip)
        legs = legs_of([slip.pk])[slip.pk]
        priced = slip_priced(slip, legs, fraction=fraction)
        if isinstance(priced, CashoutRefused):
            raise _refusal_error(priced, slip_id=slip.pk)
        offered = offer_open(slip, priced, now=now)
    CASHOUT_OFFERS.labels(CashoutOffer.Source.PLAYER).inc()
    return offered


def offer_open(
    slip: BetSlip, priced: Priced, *, now: datetime, source: str = CashoutOffer.Source.PLAYER, emit: bool = True
) -> Offered:
    """Inside the caller's transaction, with the slip locked: the slip's new open offer."""
    CashoutOffer.objects.filter(slip_id=slip.pk, status=CashoutOffer.Status.OFFERED).update(
        status=CashoutOffer.Status.SUPERSEDED, decided_at=now
    )
    offer = CashoutOffer.objects.create(
        slip=slip,
        user_id=slip.user_id,
        currency=slip.currency,
        fraction=priced.fraction,
        stake=slip.stake,
        stake_cashed=priced.stake_cashed,
        value=priced.value,
        amount=priced.amount,
        margin_bps=settings.CASHOUT_MARGIN_BPS,
        source=source,
        expires_at=now + timedelta(seconds=settings.CASHOUT_OFFER_TTL_S),
        created_at=now,
    )
    event = event_emit(type="cashout.offered", user_id=slip.user_id, data=offer_data(offer)) if emit else None
    return Offered(offer=offer, event=event)


# --- accepting --------------------------------------------------------------------------------


def cashout_offer_accept(*, user_id: int, offer_id: int, now: datetime | None = None) -> CashedOut:
    """Accept the user's open offer: re-priced, then paid at the offer's amount unless the price
    fell. Raises NotFound (not the user's), CashoutError 409 (no longer open, expired, price fell,
    slip settled) or 422 (a leg lost, a market suspended)."""
    now = now or timezone.now()
    slip_id = CashoutOffer.objects.filter(pk=offer_id, user_id=user_id).values_list("slip_id", flat=True).first()
    if slip_id is None:
        raise NotFound("No such cashout offer.", code="offer_not_found", details={"offer": offer_id})
    with transaction.atomic(durable=True):
        slip = BetSlip.objects.select_for_update(of=("self",)).get(pk=slip_id)
        offer = CashoutOffer.objects.select_for_update().get(pk=offer_id)
        outcome = offer_accept_locked(slip, offer, now=now)
    if isinstance(outcome, CashoutError):
        CASHOUT_REFUSALS.labels(outcome.code).inc()
        raise outcome
    CASHOUTS.labels("partial" if offer.partial else "full", offer.source).inc()
    log.info("cashout.accepted", offer=offer.pk, slip=slip.pk, amount=offer.amount, fraction=str(offer.fraction))
    return outcome


def offer_accept_locked(slip: BetSlip, offer: CashoutOffer, *, now: datetime) -> CashedOut | CashoutError:
    """Inside the caller's transaction, with the slip and then the offer locked: pay the offer,
    or close it and return (not raise) the error, so that the caller's commit keeps the close."""
    if offer.status != CashoutOffer.Status.OFFERED:
        CASHOUT_REFUSALS.labels("offer_not_open").inc()
        raise CashoutError(
            f"This offer is no longer open (it was {offer.status}).",
            code="offer_not_open",
            status_code=409,
            details={"offer": offer.pk, "slip": slip.pk, "status": offer.status},
        )
    if slip.status != BetSlip.Status.PENDING:
        return _offer_close(
            slip,
            offer,
            status=CashoutOffer.Status.REFUSED,
            reason="slip_not_pending",
            message=f"The slip is {slip.status}: nothing to cash out.",
            status_code=409,
            now=now,
        )
    legs = legs_of([slip.pk])[slip.pk]
    priced = slip_priced(slip, legs, fraction=offer.fraction)
    if now >= offer.expires_at:
        return _offer_close(
            slip,
            offer,
            status=CashoutOffer.Status.EXPIRED,
            reason="offer_expired",
            message="The offer expired" + (": here is a fresh one." if isinstance(priced, Priced) else "."),
            status_code=409,
            now=now,
            fresh=priced,
        )
    if isinstance(priced, CashoutRefused):
        return _offer_close(
            slip,
            offer,
            status=CashoutOffer.Status.REFUSED,
            reason=priced.reason.value,
            message=REFUSAL_MESSAGES[priced.reason],
            status_code=422,
            now=now,
        )
    if slip.stake != offer.stake or priced.amount < offer.amount:
        return _offer_close(
            slip,
            offer,
            status=CashoutOffer.Status.REFUSED,
            reason="price_changed",
            message="The price moved down since the offer: here is a fresh one.",
            status_code=409,
            now=now,
            fresh=priced,
        )
    return cashout_pay(slip, legs, offer, now=now)


def _offer_close(
    slip: BetSlip,
    offer: CashoutOffer,
    *,
    status: str,
    reason: str,
    message: str,
    status_code: int,
    now: datetime,
    fresh: Priced | CashoutRefused | None = None,
) -> CashoutError:
    closed = CashoutOffer.objects.filter(pk=offer.pk, status=CashoutOffer.Status.OFFERED).update(
        status=status, reason=reason, decided_at=now
    )
    if closed != 1:  # impossible under the slip's and the offer's row locks
        raise RuntimeError(f"offer {offer.pk} left OFFERED under its lock")
    offer.status, offer.reason, offer.decided_at = status, reason, now
    fresh_offer = offer_open(slip, fresh, now=now, emit=False).offer if isinstance(fresh, Priced) else None
    data = {
        "offer": offer.pk,
        "slip": slip.pk,
        "reason": reason,
        "message": message,
        "fresh_offer": offer_data(fresh_offer) if fresh_offer is not None else None,
    }
    event = event_emit(type="cashout.error", user_id=slip.user_id, data=data)
    return CashoutError(
        message,
        code=reason,
        status_code=status_code,
        details={k: v for k, v in event.data.items() if k != "message"},
        event=event,
        fresh_offer=fresh_offer,
    )


# --- housekeeping -----------------------------------------------------------------------------


def cashout_offers_expire(*, now: datetime | None = None, offers: QuerySet[CashoutOffer] | None = None) -> int:
    """Mark open offers (of `offers`, or all) past their time expired; accepting one re-checks
    the time anyway, so this only keeps the table telling the truth."""
    now = now or timezone.now()
    rows = CashoutOffer.objects.all() if offers is None else offers
    return rows.filter(status=CashoutOffer.Status.OFFERED, expires_at__lte=now).update(
        status=CashoutOffer.Status.EXPIRED, reason="offer_expired", decided_at=now
    )


# --- helpers ----------------------------------------------------------------------------------


def slip_locked(*, slip_id: int, user_id: int) -> BetSlip:
    slip = BetSlip.objects.select_for_update(of=("self",)).filter(pk=slip_id, user_id=user_id).first()
    if slip is None:
        raise NotFound("No such bet.", code="slip_not_found", details={"slip": slip_id})
    return slip


def pending_check(slip: BetSlip) -> None:
    if slip.status != BetSlip.Status.PENDING:
        CASHOUT_REFUSALS.labels("slip_not_pending").inc()
        raise CashoutError(
            f"The slip is {slip.status}: only a pending slip can be cashed out.",
            code="slip_not_pending",
            status_code=409,
            details={"slip": slip.pk, "status": slip.status},
        )


def _refusal_error(refused: CashoutRefused, *, slip_id: int) -> CashoutError:
    CASHOUT_REFUSALS.labels(refused.reason.value).inc()
    return CashoutError(
        REFUSAL_MESSAGES[refused.reason],
        code=refused.reason.value,
        status_code=422,
        details={"slip": slip_id, "reason": refused.reason.value},
    )
