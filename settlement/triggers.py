"""Settlement hears of results from the sportsbook (betting cannot import settlement)."""

from __future__ import annotations

import structlog

from settlement.models import SettlementRun

log = structlog.get_logger(__name__)


def result_recorded_settle(event_id: int) -> None:
    """`betting.hooks` calls this after a result (or a correction, or a voided market) commits:
    queue the event's settlement at once. The beat run catches anything lost here."""
    from settlement.services.runs import settlement_request
    from settlement.services.webhook import result_hook_suppressed

    if result_hook_suppressed():
        return  # the webhook queues its own run
    try:
        settlement_request(trigger=SettlementRun.Trigger.RESULT, event_id=event_id, requested_by="result")
    except Exception:  # noqa: BLE001 - the result is recorded; sync-and-settle will settle it
        log.exception("settlement.request_failed", event_id=event_id)
