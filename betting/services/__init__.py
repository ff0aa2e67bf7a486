"""Writes of the sportsbook, one module per concern (see each module's docstring)."""

from betting.services.live import live_bets_due, slip_live_confirm
from betting.services.operators import (
    EventSpec,
    MarketSpec,
    SelectionSpec,
    event_create,
    event_result_record,
    market_update,
    player_limits_set,
)
from betting.services.placement import LegRequest, Placement, bet_place

__all__ = [
    "EventSpec",
    "LegRequest",
    "MarketSpec",
    "Placement",
    "SelectionSpec",
    "bet_place",
    "event_create",
    "event_result_record",
    "live_bets_due",
    "market_update",
    "player_limits_set",
    "slip_live_confirm",
]
