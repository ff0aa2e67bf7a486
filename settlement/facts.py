"""From the catalogue's rows to the grader's facts, and a selection's stored grade back to an
exact `Outcome` (the factor of a leg is rebuilt from it at the leg's own odds)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from django.conf import settings

from betting.models import Event, Market, Selection
from settlement.grading import DeadHeat, EventFacts, MarketFacts, Outcome, Result, VoidReason, VoidWindow

# What the grader calls a pick's key in `EventFacts.placings`: the competitor of an outright.
OUTRIGHT_KEY = "competitor:{}"


def event_facts(event: Event, *, placings: Mapping[str, int] | None = None) -> EventFacts:
    return EventFacts(
        status=event.status,
        scheduled_start=event.start_bets_placed_against,
        disrupted=event.disrupted_at is not None,
        actual_start=event.actual_start,
        completed_at=event.finished_at,
        home_score=event.home_score,
        away_score=event.away_score,
        placings=placings or {},
    )


def market_facts(market: Market, *, void_windows: Iterable[VoidWindow] = ()) -> MarketFacts:
    return MarketFacts(
        kind=market.kind,
        paying_places=market.paying_places,
        voided=market.status == Market.Status.VOID,
        void_windows=tuple(void_windows),
    )


def selection_pick(selection: Selection) -> str:
    if selection.outcome == Selection.Outcome.COMPETITOR:
        return OUTRIGHT_KEY.format(selection.competitor_id)
    return str(selection.outcome)


def outright_placings(selections: Iterable[Selection]) -> dict[str, int]:
    return {selection_pick(s): s.placing for s in selections if s.placing is not None}


def stored_outcome(
    result: str | None, dead_heat_tied: int | None, dead_heat_places: int | None, void_reason: str | None
) -> Outcome | None:
    """A selection's grade as stored, or None when it is not graded."""
    if result is None:
        return None
    dead_heat = (
        DeadHeat(tied=dead_heat_tied, places=dead_heat_places)
        if dead_heat_tied is not None and dead_heat_places is not None
        else None
    )
    return Outcome(Result(result), dead_heat=dead_heat, void_reason=VoidReason(void_reason) if void_reason else None)


def void_deadline(event: Event) -> datetime:
    """After this a postponed or abandoned event that has not finished is void."""
    return event.start_bets_placed_against + timedelta(hours=settings.VOID_AFTER_HOURS)
