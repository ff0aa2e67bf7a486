"""Reads of the sportsbook: the catalogue for everyone, slips for their owner only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from betting.models import BetLeg, BetSlip, Event, Market, Selection
from core.errors import NotFound

SHOWN_MARKET_STATUSES = (Market.Status.OPEN, Market.Status.SUSPENDED)


def _with_markets(events: QuerySet[Event], *, all_markets: bool) -> QuerySet[Event]:
    markets = Market.objects.order_by("pk").prefetch_related(
        Prefetch("selections", queryset=Selection.objects.select_related("competitor").order_by("pk"))
    )
    if not all_markets:
        markets = markets.filter(status__in=SHOWN_MARKET_STATUSES)
    return events.select_related("sport", "league", "home", "away").prefetch_related(
        Prefetch("markets", queryset=markets)
    )


def events_list(
    *,
    sport: str | None = None,
    league: str | None = None,
    status: str | None = None,
    starts_after: datetime | None = None,
    starts_before: datetime | None = None,
    text: str | None = None,
) -> QuerySet[Event]:
    """Events with their open and suspended markets, soonest first."""
    events = Event.objects.all()
    if sport:
        events = events.filter(sport__key__iexact=sport)
    if league:
        events = events.filter(league__key__iexact=league)
    if status:
        events = events.filter(status__in=[s for s in status.split(",") if s])
    if starts_after:
        events = events.filter(scheduled_start__gte=starts_after)
    if starts_before:
        events = events.filter(scheduled_start__lt=starts_before)
    if text:
        events = events.filter(Q(name__icontains=text) | Q(home__name__icontains=text) | Q(away__name__icontains=text))
    return _with_markets(events.order_by("scheduled_start", "pk"), all_markets=False)


def event_get(*, event_id: int) -> Event:
    event = _with_markets(Event.objects.filter(pk=event_id), all_markets=True).first()
    if event is None:
        raise NotFound("No such event.", details={"event": event_id})
    return event


# A selection with its market and event, as placement reads them on every bet: the columns of
# `betting_selection s JOIN betting_market m JOIN betting_event e`, and the objects made from a
# row without the ORM (building the ORM query cost more than the query itself).
SELECTION_COLUMNS = """
    s.id, s.outcome, s.name, s.odds, s.status,
    m.id, m.kind, m.name, m.line, m.status, m.in_play, m.paying_places,
    e.id, e.name, e.status, e.scheduled_start, e.actual_start
"""


def selection_from_row(row: Sequence[Any]) -> Selection:
    """A Selection (with its market and event attached) from the SELECTION_COLUMNS of a row."""
    (sid, outcome, sname, odds, sstatus, mid, kind, mname, line, mstatus, in_play, places) = row[:12]
    eid, ename, estatus, start, actual = row[12:17]
    event = Event(id=eid, name=ename, status=estatus, scheduled_start=start, actual_start=actual)
    market = Market(
        id=mid, event=event, kind=kind, name=mname, line=line, status=mstatus, in_play=in_play, paying_places=places
    )
    return Selection(id=sid, market=market, outcome=outcome, name=sname, odds=odds, status=sstatus)


def _slips_with_legs(slips: QuerySet[BetSlip]) -> QuerySet[BetSlip]:
    return slips.prefetch_related(
        Prefetch(
            "legs",
            queryset=BetLeg.objects.select_related("selection__market__event").order_by("pk"),
        )
    )


def slips_for_user(*, user_id: int, status: str | None = None) -> QuerySet[BetSlip]:
    slips = BetSlip.objects.filter(user_id=user_id)
    if status:
        slips = slips.filter(status__in=[s for s in status.split(",") if s])
    return _slips_with_legs(slips.order_by("-pk"))


def slip_get(*, user_id: int, slip_id: int) -> BetSlip:
    """The user's own slip; anyone else's is not found (no id probing)."""
    slip = _slips_with_legs(BetSlip.objects.filter(pk=slip_id, user_id=user_id)).first()
    if slip is None:
        raise NotFound("No such bet.", details={"slip": slip_id})
    return slip
