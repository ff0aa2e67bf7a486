"""`odds.updated` for the selections on a player's open slips.

The sportsbook broadcasts an event's prices on the topic `event:<id>` (betting.services.catalogue
`event_odds_emit`). A connection joins the topics of the events its user has open slips on: at
connect (a topic provider), and when one of its `bet.placed` events passes through it (the event
lists each leg's event), which needs no database round trip.
"""

from __future__ import annotations

from typing import Any

from betting.models import BetLeg, BetSlip

OPEN_STATUSES = (BetSlip.Status.PENDING, BetSlip.Status.AWAITING)


def open_slip_topics(user_id: int) -> list[str]:
    events = (
        BetLeg.objects.filter(slip__user_id=user_id, slip__status__in=OPEN_STATUSES)
        .values_list("event_id", flat=True)
        .distinct()
    )
    return [f"event:{event_id}" for event_id in sorted(events)]


def placed_slip_topics(data: dict[str, Any]) -> list[str]:
    legs = data.get("legs")
    if not isinstance(legs, list):
        return []
    return sorted(
        {
            f"event:{leg['event']}"
            for leg in legs
            if isinstance(leg, dict) and isinstance(leg.get("event"), int) and not isinstance(leg["event"], bool)
        }
    )
