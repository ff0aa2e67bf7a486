"""Slips for the cashout tests, made the way players and operators make them, and their games'
results recorded and settled by the settlement engine."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from betting.models import BetSlip, Event, Selection
from betting.services import (
    EventSpec,
    LegRequest,
    MarketSpec,
    SelectionSpec,
    bet_place,
    event_create,
    event_result_record,
    market_update,
)
from ledger.services import wallet_for
from settlement.services.events import EventReport, event_settle


def match(*, home: str = "", away: str = "", home_odds: str = "1.9000", away_odds: str = "2.0500") -> Event:
    """An operator's fixture two hours ahead with one moneyline market."""
    tag = uuid.uuid4().hex[:6]
    return event_create(
        spec=EventSpec(
            sport="SOCCER",
            league="EPL",
            name="",
            home=home or f"Home {tag}",
            away=away or f"Away {tag}",
            scheduled_start=datetime.now(UTC) + timedelta(hours=2),
            markets=[
                MarketSpec(
                    kind="moneyline",
                    selections=[
                        SelectionSpec(outcome="home", odds=Decimal(home_odds)),
                        SelectionSpec(outcome="away", odds=Decimal(away_odds)),
                    ],
                )
            ],
        )
    )


def home_of(event: Event) -> Selection:
    return Selection.objects.select_related("market").get(market__event=event, outcome="home")


def place(user: Any, selections: Sequence[Selection], *, stake: int = 10_000, currency: str = "NGN") -> BetSlip:
    placement = bet_place(
        user_id=user.pk,
        slip_type="single" if len(selections) == 1 else "parlay",
        stake=stake,
        currency=currency,
        legs=[LegRequest(selection_id=s.pk, odds=s.odds) for s in selections],
        idempotency_key=uuid.uuid4().hex,
    )
    return placement.slip


def reprice(selection: Selection, odds: str) -> None:
    market_update(market_id=selection.market_id, odds={selection.pk: odds})


def suspend(selection: Selection) -> None:
    market_update(market_id=selection.market_id, action="suspend")


def wallet_balance(user: Any, currency: str = "NGN") -> int:
    return int(wallet_for(user_id=user.pk, currency=currency).balance)


def home_wins(event_id: int) -> EventReport:
    """The operator records a home win (2-1) and the settlement engine settles the event, as the
    trigger queued by that result would."""
    event_result_record(event_id=event_id, status="finished", home_score=2, away_score=1)
    return event_settle(event_id=event_id)
