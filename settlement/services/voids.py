"""An operator voids the bets on a market accepted inside a time window (RULES.md "Voids")."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from betting.models import Market
from core.errors import NotFound, ValidationFailed
from settlement.locks import event_lock
from settlement.models import MarketVoidWindow, SettlementRun
from settlement.services.grading import event_settlement_locked
from settlement.services.runs import settlement_request

log = structlog.get_logger(__name__)


def market_bets_void(
    *,
    market_id: int,
    start: datetime,
    end: datetime,
    reason: str,
    operator_id: int | None = None,
    now: datetime | None = None,
) -> MarketVoidWindow:
    """Record the window and queue the event's settlement: pending slips with a leg on the market
    accepted inside it settle with that leg VOID; slips already settled are resettled if the event
    is still inside RESETTLE_WINDOW_HOURS of its first settlement. The same window twice is one."""
    now = now or timezone.now()
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationFailed("The window's start and end carry a time zone.", code="invalid_window")
    if not start < end:
        raise ValidationFailed("The window starts before it ends.", code="invalid_window")
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Say why the bets are void.", code="reason_required")
    market = Market.objects.filter(pk=market_id).first()
    if market is None:
        raise NotFound("No such market.", details={"market": market_id})
    with transaction.atomic(durable=True):
        event_lock(market.event_id)
        try:
            with transaction.atomic():
                window = MarketVoidWindow.objects.create(
                    market=market, start=start, end=end, reason=reason[:255], created_by_id=operator_id, created_at=now
                )
        except IntegrityError:
            return MarketVoidWindow.objects.get(market=market, start=start, end=end)
        record = event_settlement_locked(market.event_id)
        record.generation += 1
        window_open = record.first_graded_at is None or now <= record.first_graded_at + timedelta(
            hours=settings.RESETTLE_WINDOW_HOURS
        )
        if record.first_graded_at is not None and window_open:
            record.resettle = True
        elif not window_open:
            log.warning("settlement.void_window_late", market=market_id, event_id=market.event_id, window=window.pk)
        record.updated_at = now
        record.save(update_fields=["generation", "resettle", "updated_at"])
        settlement_request(
            trigger=SettlementRun.Trigger.VOID,
            event_id=market.event_id,
            requested_by=f"operator:{operator_id}" if operator_id else "operator",
        )
    log.info("settlement.void_window", market=market_id, window=window.pk, start=start.isoformat(), end=end.isoformat())
    return window
