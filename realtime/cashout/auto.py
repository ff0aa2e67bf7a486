"""Auto-cashout: a player's target for the whole slip's offer; reached, the slip is cashed out.

Evaluated when odds move (the sportsbook's `odds_changed` hook queues `auto_cashout_evaluate`
on the realtime queue after the change commits, for the markets that moved) and by a beat sweep
over every armed target (a lost task; a leg that has just won). Evaluation is set-based: one
query finds the armed slips with a leg in the moved markets, one reads their legs, pricing runs
in memory; only the slips whose offer reached the target are cashed out, each in its own
transaction under its row lock, re-priced there.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import structlog
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from betting.models import BetSlip
from core.errors import ApplicationError, ValidationFailed
from core.metrics import CASHOUT_OFFERS, CASHOUTS
from ledger.currencies import money, validate_amount
from realtime.cashout.models import AutoCashout, CashoutOffer
from realtime.cashout.payment import cashout_pay
from realtime.cashout.pricing import WHOLE, Priced, legs_of, slip_priced, slip_quote
from realtime.cashout.services import CashoutError, offer_open, pending_check, slip_locked
from settlement.cashout_pricing import CashoutQuote

log = structlog.get_logger(__name__)


def auto_cashout_set(
    *, user_id: int, slip_id: int, target: int | None, now: datetime | None = None
) -> AutoCashout | None:
    """Arm (or move) the slip's target, or clear it with `target=None`; returns the armed row.

    A target must be below the slip's potential payout (no offer ever reaches it) and above the
    offer the slip would get now (else: cash out now).
    """
    now = now or timezone.now()
    if target is not None:
        validate_amount(target, field="target")
    with transaction.atomic(durable=True):
        slip = slip_locked(slip_id=slip_id, user_id=user_id)
        pending_check(slip)
        if target is None:
            AutoCashout.objects.filter(slip_id=slip.pk, status=AutoCashout.Status.ARMED).update(
                status=AutoCashout.Status.CLEARED, updated_at=now
            )
            return None
        if target >= slip.potential_payout:
            raise ValidationFailed(
                "An offer is always below the slip's potential payout: set a lower target.",
                code="target_unreachable",
                details={"potential_payout": money(slip.potential_payout, slip.currency)},
            )
        quote = slip_quote(slip, legs_of([slip.pk])[slip.pk])
        if isinstance(quote, CashoutQuote) and quote.offer >= target:
            raise CashoutError(
                "The slip's offer already meets this target: cash out now instead.",
                code="target_reached",
                status_code=422,
                details={"slip": slip.pk, "offer": money(quote.offer, slip.currency)},
            )
        auto, _ = AutoCashout.objects.update_or_create(
            slip_id=slip.pk,
            defaults={
                "user_id": slip.user_id,
                "currency": slip.currency,
                "target": target,
                "status": AutoCashout.Status.ARMED,
                "updated_at": now,
            },
        )
    return auto


def auto_cashouts_evaluate(*, market_ids: Iterable[int] | None = None, now: datetime | None = None) -> int:
    """Cash out the armed slips (with a leg in `market_ids`, or all) whose offer reached their
    target; returns how many were cashed out. Targets of slips no longer pending lapse."""
    now = now or timezone.now()
    armed = AutoCashout.objects.filter(status=AutoCashout.Status.ARMED)
    if market_ids is None:
        armed.exclude(slip__status=BetSlip.Status.PENDING).update(status=AutoCashout.Status.LAPSED, updated_at=now)
    else:
        armed = armed.filter(slip__legs__selection__market_id__in=list(market_ids))
    targets = dict(armed.filter(slip__status=BetSlip.Status.PENDING).values_list("slip_id", "target").distinct())
    if not targets:
        return 0
    slips = BetSlip.objects.in_bulk(list(targets))
    legs = legs_of(targets)
    reached = []
    for slip_id, target in targets.items():
        quote = slip_quote(slips[slip_id], legs[slip_id])
        if isinstance(quote, CashoutQuote) and quote.offer >= target:
            reached.append(slip_id)
    executed = 0
    for slip_id in sorted(reached):
        try:
            executed += auto_cashout_execute(slip_id=slip_id, now=now)
        except ApplicationError as exc:  # this slip stays armed; the others go on
            log.warning("auto_cashout.failed", slip=slip_id, code=exc.code, error=exc.message)
    return executed


def auto_cashout_execute(*, slip_id: int, now: datetime | None = None) -> bool:
    """Under the slip's lock: re-price, and if the target is still met, offer and pay at once."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        slip = BetSlip.objects.select_for_update(of=("self",)).filter(pk=slip_id).first()
        if slip is None or slip.status != BetSlip.Status.PENDING:
            return False
        auto = AutoCashout.objects.select_for_update().filter(slip_id=slip_id, status=AutoCashout.Status.ARMED).first()
        if auto is None:
            return False
        legs = legs_of([slip_id])[slip_id]
        priced = slip_priced(slip, legs, fraction=WHOLE)
        if not isinstance(priced, Priced) or priced.amount < auto.target:
            return False
        offer = offer_open(slip, priced, now=now, source=CashoutOffer.Source.AUTO, emit=False).offer
        AutoCashout.objects.filter(pk=auto.pk).update(status=AutoCashout.Status.EXECUTED, offer=offer, updated_at=now)
        cashout_pay(slip, legs, offer, now=now)
    CASHOUT_OFFERS.labels(CashoutOffer.Source.AUTO).inc()
    CASHOUTS.labels("full", CashoutOffer.Source.AUTO).inc()
    log.info("cashout.auto_executed", slip=slip_id, offer=offer.pk, amount=offer.amount, target=auto.target)
    return True


def auto_cashout_on_odds_changed(market_ids: list[int]) -> None:
    """The sportsbook's after-commit hook: queue an evaluation when an armed target has a leg in
    one of these markets. A broker that is down loses nothing: the beat sweep re-prices."""
    armed = AutoCashout.objects.filter(status=AutoCashout.Status.ARMED, slip__legs__selection__market_id__in=market_ids)
    if not armed.exists():
        return
    from realtime.tasks import auto_cashout_evaluate

    try:
        auto_cashout_evaluate.delay(sorted(set(market_ids)))
    except OperationalError:
        log.warning("auto_cashout.enqueue_failed", markets=market_ids)
