"""Grade an event's selections and store the grades (RULES.md "Grading one selection").

Runs inside the caller's transaction, under the event's advisory lock (`settlement.locks`). A
selection's grade is stored as its result plus the dead-heat counts and void reason, from which
every leg's exact factor is rebuilt at the leg's own odds; `factor` is for display only.

A final result graded for the first time starts the resettlement window. A later result (a
correction) inside the window regrades and marks the event's settled slips for a resettlement
pass; after the window it is logged and ignored, and the grades stay what was settled.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import connection

from betting.models import Event, Market, Selection
from realtime.outbox import events_emit
from settlement.facts import event_facts, market_facts, outright_placings, selection_pick, void_deadline
from settlement.grading import Outcome, Result, Ungraded, selection_outcome
from settlement.models import EventSettlement

log = structlog.get_logger(__name__)

FINAL_STATUSES = frozenset({Event.Status.FINISHED, Event.Status.CANCELLED})
DISRUPTED_STATUSES = frozenset({Event.Status.POSTPONED, Event.Status.ABANDONED})


@dataclass
class GradingReport:
    event_id: int
    status: str
    result_version: int
    final: bool = False
    graded: int = 0  # selections holding a grade after this
    written: list[int] = field(default_factory=list)  # grades written (new or changed)
    corrected: list[int] = field(default_factory=list)  # of those, grades that replaced another
    ungraded: Counter[str] = field(default_factory=Counter)  # reason -> selections (data the grader cannot use)
    awaiting: int = 0  # selections waiting for a result
    ignored_correction: bool = False
    generation: int = 0
    resettle: bool = False


def event_is_final(event: Event, *, now: datetime) -> bool:
    """Over for settlement: finished, cancelled, or postponed/abandoned past the void deadline."""
    if event.status in FINAL_STATUSES:
        return True
    return event.status in DISRUPTED_STATUSES and now > void_deadline(event)


def event_settlement_locked(event_id: int) -> EventSettlement:
    """The event's settlement row, made when missing (the caller holds the event's lock)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO settlement_eventsettlement (event_id, handled_status, handled_version, graded_version, "
            "ignored_version, generation, settled_generation, resettle, updated_at) "
            "VALUES (%s, '', 0, 0, 0, 0, 0, false, now()) ON CONFLICT (event_id) DO NOTHING",
            [event_id],
        )
    return EventSettlement.objects.select_for_update().get(event_id=event_id)


def event_grade(*, event_id: int, now: datetime) -> GradingReport:
    """Grade every selection of the event that can be graded now; write what changed."""
    event = Event.objects.get(pk=event_id)
    record = event_settlement_locked(event_id)
    report = GradingReport(event_id=event_id, status=event.status, result_version=event.result_version)
    report.final = event_is_final(event, now=now)
    state = (str(event.status), event.result_version)
    new_state = state != (record.handled_status, record.handled_version)
    window = timedelta(hours=settings.RESETTLE_WINDOW_HOURS)
    if record.first_graded_at is not None and new_state and now > record.first_graded_at + window:
        log.warning(
            "settlement.correction_ignored",
            event_id=event_id,
            status=event.status,
            result_version=event.result_version,
            graded_version=record.graded_version,
            first_graded_at=record.first_graded_at.isoformat(),
        )
        record.handled_status, record.handled_version = state
        record.ignored_version = event.result_version
        record.updated_at = now
        record.save(update_fields=["handled_status", "handled_version", "ignored_version", "updated_at"])
        report.ignored_correction = True
        report.generation = record.generation
        return report

    markets = {m.pk: m for m in Market.objects.filter(event_id=event_id).order_by("pk")}
    by_market: dict[int, list[Selection]] = defaultdict(list)
    for selection in Selection.objects.filter(market_id__in=list(markets)).order_by("pk"):
        selection.market = markets[selection.market_id]
        by_market[selection.market_id].append(selection)

    changed: list[Selection] = []
    for market_id, selections in by_market.items():
        market = markets[market_id]
        facts = event_facts(event, placings=outright_placings(selections))
        market_as_graded = market_facts(market)
        for selection in selections:
            outcome = selection_outcome(
                event=facts,
                market=market_as_graded,
                pick=selection_pick(selection),
                line=selection.line,
                now=now,
                void_after_hours=settings.VOID_AFTER_HOURS,
            )
            if isinstance(outcome, Ungraded):
                if outcome.awaiting:
                    report.awaiting += 1
                else:
                    report.ungraded[outcome.reason.value] += 1
                    log.warning(
                        "settlement.ungraded", event_id=event_id, selection=selection.pk, reason=outcome.reason.value
                    )
                if selection.result is not None:
                    report.graded += 1  # the grade it has stays: never silently replaced
                continue
            report.graded += 1
            had_grade = selection.result is not None
            if _grade_apply(selection, outcome, version=event.result_version, now=now):
                changed.append(selection)
                if had_grade:
                    report.corrected.append(selection.pk)

    if changed:
        _grades_write(changed)
        report.written = [s.pk for s in changed]
        _markets_follow_grades(markets, by_market, now=now)
        events_emit([("selection.updated", _selection_data(s, event), None, f"selection:{s.pk}") for s in changed])

    fields = ["updated_at"]
    record.updated_at = now
    if report.final:
        record.handled_status, record.handled_version = state
        record.graded_version = event.result_version
        fields += ["handled_status", "handled_version", "graded_version"]
        if record.first_graded_at is None:
            record.first_graded_at = now
            fields.append("first_graded_at")
    if changed:
        record.generation += 1
        fields.append("generation")
        if report.corrected and not record.resettle:
            record.resettle = True
            fields.append("resettle")
    record.save(update_fields=fields)
    report.generation, report.resettle = record.generation, record.resettle
    if report.corrected:
        log.info(
            "settlement.regraded", event_id=event_id, selections=report.corrected, result_version=event.result_version
        )
    return report


def _grade_apply(selection: Selection, outcome: Outcome, *, version: int, now: datetime) -> bool:
    """Set the selection's grade fields from `outcome`; False when it already holds that grade."""
    dead_heat = outcome.dead_heat
    new = (
        outcome.result.value,
        dead_heat.tied if dead_heat else None,
        dead_heat.places if dead_heat else None,
        outcome.void_reason.value if outcome.void_reason else "",
    )
    old = (selection.result, selection.dead_heat_tied, selection.dead_heat_places, selection.void_reason)
    if new == old:
        return False
    selection.result, selection.dead_heat_tied, selection.dead_heat_places, selection.void_reason = new
    selection.factor = outcome.grade(selection.odds).factor_display
    selection.graded_version = version
    selection.graded_at = now
    target = Selection.Status.VOID if outcome.result is Result.VOID else Selection.Status.SETTLED
    if selection.status != target and Selection.can_transition(selection.status, target):
        selection.status = target
    return True


def _grades_write(selections: list[Selection]) -> None:
    """One UPDATE for every selection whose grade changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE betting_selection s
            SET result = v.result, factor = v.factor, dead_heat_tied = v.tied, dead_heat_places = v.places,
                void_reason = v.void_reason, graded_version = v.version, graded_at = v.graded_at, status = v.status
            FROM unnest(%s::bigint[], %s::text[], %s::numeric[], %s::smallint[], %s::smallint[], %s::text[],
                        %s::int[], %s::timestamptz[], %s::text[])
                AS v(id, result, factor, tied, places, void_reason, version, graded_at, status)
            WHERE s.id = v.id
            """,
            [
                [s.pk for s in selections],
                [s.result for s in selections],
                [s.factor for s in selections],
                [s.dead_heat_tied for s in selections],
                [s.dead_heat_places for s in selections],
                [s.void_reason for s in selections],
                [s.graded_version for s in selections],
                [s.graded_at for s in selections],
                [s.status for s in selections],
            ],
        )


def _markets_follow_grades(markets: dict[int, Market], by_market: dict[int, list[Selection]], *, now: datetime) -> None:
    """A market whose every selection is graded is settled (void when every one is void)."""
    for market_id, selections in by_market.items():
        if any(s.result is None for s in selections):
            continue
        market = markets[market_id]
        target = Market.Status.VOID if all(s.result == Result.VOID for s in selections) else Market.Status.SETTLED
        if market.status != target and Market.can_transition(market.status, target):
            Market.objects.filter(pk=market.pk, status=market.status).update(status=target, updated_at=now)


def _selection_data(selection: Selection, event: Event) -> dict[str, object]:
    return {
        "selection": selection.pk,
        "market": selection.market_id,
        "event": event.pk,
        "status": selection.status,
        "result": selection.result,
        "factor": selection.factor,
        "dead_heat": (
            {"tied": selection.dead_heat_tied, "places": selection.dead_heat_places}
            if selection.dead_heat_tied
            else None
        ),
        "void_reason": selection.void_reason or None,
        "result_version": event.result_version,
    }
