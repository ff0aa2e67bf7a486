"""Slips for the cashout tests, made the way players and operators make them, and a stand-in for
the settlement engine (not on main yet): one slip settled exactly as settlement will settle it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from betting.models import BetSlip, Event, Selection
from betting.pricing import settlement_split
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
from ledger.models import Account
from ledger.services import Entry, Line, entries_post, system_account, user_lines, wallet_for
from realtime.outbox import events_emit
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


def settle_won(slip_id: int) -> bool:
    """Settle a slip as won at its potential payout, the way the settlement engine will: a
    compare-and-set from PENDING guarded by the stake it priced, the ledger entry
    `bet:settle:<slip>:v1` and `bet.settled`, in one transaction. False: someone (a cashout) got
    there first, and nothing was written."""
    slip = BetSlip.objects.get(pk=slip_id)
    payout = slip.potential_payout
    with transaction.atomic():
        moved = BetSlip.objects.filter(pk=slip_id, status=BetSlip.Status.PENDING, stake=slip.stake).update(
            status=BetSlip.Status.WON,
            payout=payout,
            settled_at=timezone.now(),
            settlement_version=F("settlement_version") + 1,
        )
        if not moved:
            return False
        split = settlement_split(stake=slip.stake, payout=payout)
        escrow = system_account(kind=Account.Kind.BETS_ESCROW, currency=slip.currency).pk
        house = system_account(kind=Account.Kind.HOUSE, currency=slip.currency).pk
        lines = [Line(escrow, -slip.stake, slip.currency)]
        if split.escrow_to_house - split.house_to_wallet:
            lines.append(Line(house, split.escrow_to_house - split.house_to_wallet, slip.currency))
        lines += user_lines(user_id=slip.user_id, currency=slip.currency, delta=payout)
        key = f"bet:settle:{slip_id}:v1"
        tx_id = entries_post([Entry(key=key, kind="bet.settle", lines=lines, reference=f"slip:{slip_id}")]).id_for(key)
        events_emit(
            [
                ("bet.settled", {"slip": slip_id, "status": "won", "payout": payout}, slip.user_id, ""),
                (
                    "balance.updated",
                    {"currency": slip.currency, "reason": "bet.settled", "transaction": tx_id, "amount": payout},
                    slip.user_id,
                    "",
                ),
            ]
        )
    return True
