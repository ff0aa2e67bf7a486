"""The cashout messages of /ws/bets/, answered in a database thread of the consumer.

- `cashout.request {slip, fraction?}` -> `cashout.offered {offer, slip, amount, expires_at, ...}`
- `cashout.accept {offer}` -> `cashout.success {...}` or `cashout.error {reason, fresh_offer}`
- `cashout.auto {slip, target}` (target null clears) -> `cashout.auto {slip, target, status}`

An answer that reports a committed change is the outbox event itself (`id`, `seq`), so the copy
the relay brings a moment later is dropped by the consumer's de-duplication, and the user's
other connections hear it too. A refusal that changed nothing is a `cashout.error` frame with
the same `data` shape and no `id`. Any amount in a client message refuses it
(`amount_not_accepted`): the server sets every amount.
"""

from __future__ import annotations

from typing import Any

from core.errors import ApplicationError, ValidationFailed
from ledger.currencies import money
from realtime.cashout.auto import auto_cashout_set
from realtime.cashout.data import amount_fields_refuse, fraction_parse
from realtime.cashout.services import CashoutError, cashout_offer_accept, cashout_offer_create
from realtime.models import OutboxEvent
from realtime.protocol import envelope

Frame = dict[str, Any]
MAX_ID = 2**63 - 1  # a bigint primary key


def cashout_request(user_id: int, message: dict[str, Any]) -> Frame:
    try:
        amount_fields_refuse(message)
        slip_id = _id(message, "slip")
        offered = cashout_offer_create(
            user_id=user_id, slip_id=slip_id, fraction=fraction_parse(message.get("fraction"))
        )
    except ApplicationError as exc:
        return _refused(exc, message)
    if offered.event is None:  # a player's offer is always announced
        raise RuntimeError("a player's cashout offer was made without its event")
    return _event_frame(offered.event)


def cashout_accept(user_id: int, message: dict[str, Any]) -> Frame:
    try:
        amount_fields_refuse(message)
        cashed = cashout_offer_accept(user_id=user_id, offer_id=_id(message, "offer"))
    except ApplicationError as exc:
        return _refused(exc, message)
    return _event_frame(cashed.event)


def cashout_auto(user_id: int, message: dict[str, Any]) -> Frame:
    try:
        slip_id = _id(message, "slip")
        if "target" not in message:
            raise ValidationFailed("Send target (minor units), or null to clear it.", code="target_required")
        auto = auto_cashout_set(user_id=user_id, slip_id=slip_id, target=message["target"])
    except ApplicationError as exc:
        return _refused(exc, message)
    data = {
        "slip": slip_id,
        "target": money(auto.target, auto.currency) if auto is not None else None,
        "status": auto.status if auto is not None else "cleared",
    }
    return {"type": "cashout.auto", "data": data}


def _id(message: dict[str, Any], field: str) -> int:
    value = message.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ValidationFailed(f'"{field}" must be an id (a positive integer).', code="bad_message")
    return value


def _event_frame(event: OutboxEvent) -> Frame:
    return envelope(
        type=event.type, event_id=event.event_id, seq=event.seq, created_at=event.created_at, data=event.data
    )


def _refused(exc: ApplicationError, message: dict[str, Any]) -> Frame:
    if isinstance(exc, CashoutError) and exc.event is not None:
        return _event_frame(exc.event)
    data = {
        "slip": message.get("slip") if isinstance(message.get("slip"), int) else exc.details.get("slip"),
        "offer": message.get("offer") if isinstance(message.get("offer"), int) else None,
        "reason": exc.code,
        "message": exc.message,
        "details": exc.details,
        "fresh_offer": None,
    }
    return {"type": "cashout.error", "data": data}
