"""`round.updated`: what players hear about a round, on topic `round:<code>`."""

from __future__ import annotations

from typing import Any

from betting.models import Round
from betting.rounds.nyse import NEW_YORK
from betting.rounds.selectors import Pools, round_pools
from realtime.outbox import events_emit


def topic_for(round: Round) -> str:
    return f"round:{round.code}"


def _price(value: Any) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def round_payload(round: Round, *, pools: Pools | None = None) -> dict[str, Any]:
    pools = pools or round_pools(round=round)
    return {
        "code": round.code,
        "asset": round.asset,
        "currency": round.currency,
        "status": round.status,
        "result": round.result or None,
        "void_reason": round.void_reason or None,
        "lock_at": round.lock_at.astimezone(NEW_YORK).isoformat(),
        "close_at": round.close_at.astimezone(NEW_YORK).isoformat(),
        "reference_price": _price(round.reference_price),
        "closing_price": _price(round.closing_price),
        "pools": {"UP": pools.up, "DOWN": pools.down, "up_bets": pools.up_bets, "down_bets": pools.down_bets},
    }


def round_updated_emit(round: Round, *, change: str, pools: Pools | None = None, **extra: Any) -> None:
    """Record the event in the caller's transaction (the one that made the change)."""
    data = {**round_payload(round, pools=pools), "change": change, **extra}
    events_emit([("round.updated", data, None, topic_for(round))])
