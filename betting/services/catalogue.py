"""Writes to the catalogue shared by the feed sync and operators: event state (status, scores,
result version) and market status, each a checked transition, plus the `odds.updated` event that
tells the outside what a market looks like now."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError
from django.db.models import QuerySet
from django.utils import timezone

from betting.models import Event, Market, Selection
from core.errors import Conflict
from realtime.outbox import event_emit

BETTABLE_EVENT_STATUSES = frozenset({Event.Status.SCHEDULED, Event.Status.LIVE})
LIVE_MARKET_STATUSES = (Market.Status.OPEN, Market.Status.SUSPENDED)


@dataclass(frozen=True)
class StateChange:
    changed: bool = False  # anything written (live scores too)
    status_changed: bool = False
    result_changed: bool = False
    refused: str = ""  # a transition the event's state does not allow, with why


def event_state_apply(
    event: Event,
    *,
    status: str,
    now: datetime,
    home_score: int | None = None,
    away_score: int | None = None,
    started_at: datetime | None = None,
    force_result: bool = False,
) -> StateChange:
    """Move an event to `status` with its scores; the caller holds the event's row lock.

    A final result (or a corrected one) bumps `result_version`; markets follow the event
    (closed when it is over, suspended while postponed or abandoned, pre-match-only markets
    closed when it goes live). A transition the status table refuses changes nothing.
    """
    fields: dict[str, object] = {}
    old_status = event.status
    if status != old_status:
        if not Event.can_transition(old_status, status):
            return StateChange(refused=f"{old_status} -> {status}")
        fields["status"] = status
        if status in (Event.Status.LIVE, Event.Status.FINISHED) and event.actual_start is None:
            fields["actual_start"] = min(started_at or now, now)
        if status == Event.Status.FINISHED:
            fields["finished_at"] = now
        if status in (Event.Status.POSTPONED, Event.Status.ABANDONED) and event.disrupted_at is None:
            fields["disrupted_at"] = now  # kept for good: grading asks whether it finished in time

    result_changed = False
    if status == Event.Status.FINISHED:
        scores_changed = (home_score, away_score) != (event.home_score, event.away_score)
        if old_status != Event.Status.FINISHED or scores_changed or force_result:
            fields |= {"home_score": home_score, "away_score": away_score, "result_received_at": now}
            fields["result_version"] = event.result_version + 1
            result_changed = True
    elif status == Event.Status.LIVE and home_score is not None and away_score is not None:
        if (home_score, away_score) != (event.home_score, event.away_score):
            fields |= {"home_score": home_score, "away_score": away_score}

    if not fields:
        return StateChange()
    fields["updated_at"] = now
    for name, value in fields.items():
        setattr(event, name, value)
    event.save(update_fields=list(fields))
    if "status" in fields:
        markets_follow_event(event, now=now)
    return StateChange(changed=True, status_changed="status" in fields, result_changed=result_changed)


def markets_follow_event(event: Event, *, now: datetime) -> int:
    """Set-based market transitions when an event's status changes; returns markets moved."""
    markets = Market.objects.filter(event_id=event.pk)
    if event.status in (Event.Status.FINISHED, Event.Status.CANCELLED):
        return markets.filter(status__in=LIVE_MARKET_STATUSES).update(status=Market.Status.CLOSED, updated_at=now)
    if event.status in (Event.Status.POSTPONED, Event.Status.ABANDONED):
        return markets.filter(status=Market.Status.OPEN).update(status=Market.Status.SUSPENDED, updated_at=now)
    if event.status == Event.Status.LIVE:
        return markets.filter(in_play=False, status__in=LIVE_MARKET_STATUSES).update(
            status=Market.Status.CLOSED, updated_at=now
        )
    return 0


def markets_close(market_ids: Iterable[int], *, now: datetime) -> int:
    return Market.objects.filter(pk__in=list(market_ids), status__in=LIVE_MARKET_STATUSES).update(
        status=Market.Status.CLOSED, updated_at=now
    )


def market_status_set(market: Market, *, status: str, now: datetime, operator_hold: bool | None = None) -> bool:
    """Compare-and-set a market's status; False when it already moved (or is already there)."""
    if market.status == status and operator_hold is None:
        return False
    if market.status != status and not Market.can_transition(market.status, status):
        raise Conflict(
            f"A {market.status} market cannot become {status}.",
            code="market_state_conflict",
            details={"market": market.pk, "status": market.status},
        )
    changes: dict[str, object] = {"status": status, "updated_at": now}
    if operator_hold is not None:
        changes["operator_hold"] = operator_hold
    updated = Market.objects.filter(pk=market.pk, status=market.status).update(**changes)
    if updated:
        for name, value in changes.items():
            setattr(market, name, value)
    return bool(updated)


def constraint_name(exc: IntegrityError) -> str | None:
    """Which constraint PostgreSQL says an IntegrityError broke."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def selections_of(market_ids: Iterable[int]) -> QuerySet[Selection]:
    return Selection.objects.filter(market_id__in=list(market_ids)).order_by("pk")


def event_odds_emit(event_id: int, *, market_ids: Iterable[int] | None = None) -> None:
    """Tell the outside the current state of an event's markets (inside the change's transaction)."""
    markets = Market.objects.filter(event_id=event_id).order_by("pk")
    if market_ids is not None:
        markets = markets.filter(pk__in=list(market_ids))
    rows = list(markets.values("pk", "status", "line"))
    if not rows:
        return
    by_market: dict[int, list[dict[str, object]]] = {row["pk"]: [] for row in rows}
    for sel in selections_of(by_market).values("pk", "market_id", "odds", "status"):
        by_market[sel["market_id"]].append({"id": sel["pk"], "odds": sel["odds"], "status": sel["status"]})
    status = Event.objects.filter(pk=event_id).values_list("status", flat=True).first()
    event_emit(
        type="odds.updated",
        topic=f"event:{event_id}",
        data={
            "event": event_id,
            "event_status": status,
            "markets": [
                {"id": row["pk"], "status": row["status"], "line": row["line"], "selections": by_market[row["pk"]]}
                for row in rows
            ],
            "at": timezone.now(),
        },
    )
