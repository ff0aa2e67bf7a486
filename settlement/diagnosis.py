"""Why pending slips on events that are over have not settled (`manage.py diagnose_settlement`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from betting.models import BetLeg, BetSlip, Event, Selection
from settlement.facts import event_facts, market_facts, outright_placings, selection_pick, stored_outcome
from settlement.grading import Grade, UngradedReason, VoidWindow, leg_grade, selection_outcome
from settlement.models import MarketVoidWindow

OVER = (Event.Status.FINISHED, Event.Status.CANCELLED, Event.Status.POSTPONED, Event.Status.ABANDONED)


@dataclass
class LegState:
    leg_id: int
    event_id: int
    event_status: str
    selection: str
    state: str  # graded | waiting | ungradable | ready
    detail: str


@dataclass
class SlipDiagnosis:
    slip_id: int
    user_id: int
    type: str
    stake: int
    currency: str
    placed_at: datetime
    reason: str
    legs: list[LegState] = field(default_factory=list)


def stuck_slips(*, limit: int = 200, now: datetime | None = None) -> tuple[int, list[SlipDiagnosis]]:
    """Pending slips with a leg on an event that is over, oldest first, each with the reason it is
    still pending; and how many such slips there are in all."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT s.id FROM betting_betslip s
            WHERE s.status = 'pending' AND EXISTS (
                SELECT 1 FROM betting_betleg l JOIN betting_event e ON e.id = l.event_id
                WHERE l.slip_id = s.id AND e.status = ANY(%s))
            ORDER BY s.id
            """,
            [[str(s) for s in OVER]],
        )
        ids = [row[0] for row in cursor.fetchall()]
    shown = ids[:limit]
    legs_by_slip: dict[int, list[BetLeg]] = defaultdict(list)
    for leg in (
        BetLeg.objects.filter(slip_id__in=shown)
        .select_related("slip", "selection__market__event", "selection__competitor")
        .order_by("slip_id", "pk")
    ):
        legs_by_slip[leg.slip_id].append(leg)
    market_ids = {leg.selection.market_id for legs in legs_by_slip.values() for leg in legs}
    placings: dict[int, dict[str, int]] = defaultdict(dict)
    for selection in Selection.objects.filter(market_id__in=market_ids, placing__isnull=False):
        placings[selection.market_id].update(outright_placings([selection]))
    windows: dict[int, list[VoidWindow]] = defaultdict(list)
    for window in MarketVoidWindow.objects.filter(market_id__in=market_ids):
        windows[window.market_id].append(VoidWindow(start=window.start, end=window.end))

    diagnoses = []
    for slip_id in shown:
        legs = legs_by_slip[slip_id]
        slip: BetSlip = legs[0].slip
        states = [_leg_state(leg, slip, placings, windows, now=now) for leg in legs]
        diagnoses.append(
            SlipDiagnosis(
                slip_id=slip.pk,
                user_id=slip.user_id,
                type=slip.type,
                stake=slip.stake,
                currency=slip.currency,
                placed_at=slip.placed_at,
                reason=_slip_reason(states),
                legs=states,
            )
        )
    return len(ids), diagnoses


def _leg_state(
    leg: BetLeg,
    slip: BetSlip,
    placings: dict[int, dict[str, int]],
    windows: dict[int, list[VoidWindow]],
    *,
    now: datetime,
) -> LegState:
    selection = leg.selection
    market = selection.market
    event = market.event
    facts = event_facts(event, placings=placings.get(market.pk, {}))
    market_as_graded = market_facts(market, void_windows=windows.get(market.pk, ()))
    stored = stored_outcome(
        selection.result, selection.dead_heat_tied, selection.dead_heat_places, selection.void_reason
    )
    outcome = stored or selection_outcome(
        event=facts,
        market=market_as_graded,
        pick=selection_pick(selection),
        line=selection.line,
        now=now,
        void_after_hours=settings.VOID_AFTER_HOURS,
    )
    grade = leg_grade(
        outcome=outcome,
        odds=leg.odds_placed,
        accepted_at=slip.accepted_at or slip.placed_at,
        in_play=leg.live,
        event=facts,
        market=market_as_graded,
    )
    label = f"{market.name}: {selection.name}"
    if isinstance(grade, Grade):
        if stored is not None or grade.void_reason is not None:
            return LegState(leg.pk, event.pk, event.status, label, "graded", grade.result.value)
        return LegState(
            leg.pk, event.pk, event.status, label, "ready",
            f"gradable as {grade.result.value} (result v{event.result_version}); not written yet",
        )  # fmt: skip
    if grade.reason is UngradedReason.AWAITING_RESULT:
        return LegState(leg.pk, event.pk, event.status, label, "waiting", grade.detail)
    return LegState(leg.pk, event.pk, event.status, label, "ungradable", f"{grade.reason.value}: {grade.detail}")


def _slip_reason(states: list[LegState]) -> str:
    ungradable = [s for s in states if s.state == "ungradable"]
    if ungradable:
        first = ungradable[0]
        return f"cannot be graded: event {first.event_id} ({first.selection}) {first.detail}"
    ready = [s for s in states if s.state == "ready"]
    waiting = [s for s in states if s.state == "waiting"]
    if waiting:
        first = waiting[0]
        extra = f" and {len(waiting) - 1} more leg(s)" if len(waiting) > 1 else ""
        return f"waiting for event {first.event_id} ({first.detail}){extra}"
    if ready:
        return "every leg can be graded: settles at the next run (the event's grading has not run)"
    return "every leg is graded: settles at the next run"
