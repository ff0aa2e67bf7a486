"""What operators do to the catalogue (the staff API and the admin call these): create an event
with its markets, reprice / suspend / resume / void / close a market, record a result."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from betting.hooks import odds_changed, result_recorded
from betting.models import MANUAL_PROVIDER, Competitor, Event, League, Market, PlayerLimits, Selection, Sport
from betting.odds import OddsFormatError, parse_decimal
from betting.services.catalogue import constraint_name, event_odds_emit, event_state_apply, market_status_set
from core.errors import Conflict, NotFound, ValidationFailed
from ledger.currencies import get_currency

MARKET_ACTIONS = ("suspend", "resume", "void", "close")


@dataclass(frozen=True)
class SelectionSpec:
    outcome: str
    odds: Decimal
    name: str = ""  # defaults to the team, Draw, Over/Under; the competitor's name for outrights


@dataclass(frozen=True)
class MarketSpec:
    kind: str
    selections: Sequence[SelectionSpec]
    line: Decimal | None = None
    name: str = ""
    paying_places: int = 1
    in_play: bool = False


@dataclass(frozen=True)
class EventSpec:
    sport: str
    name: str
    scheduled_start: datetime
    markets: Sequence[MarketSpec] = field(default_factory=tuple)
    league: str = ""
    home: str = ""
    away: str = ""
    external_id: str = ""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:100]


def _competitor(sport: Sport, name: str) -> Competitor:
    competitor, _ = Competitor.objects.get_or_create(
        provider=MANUAL_PROVIDER, external_id=f"{sport.key}:{_slug(name)}", defaults={"sport": sport, "name": name}
    )
    return competitor


def _market_check(spec: MarketSpec, *, has_teams: bool) -> None:
    if spec.kind not in Market.Kind.values:
        raise ValidationFailed(f"Unknown market kind {spec.kind!r}.", code="invalid_market")
    outcomes = [s.outcome for s in spec.selections]
    allowed = Market.OUTCOMES[spec.kind]
    if spec.kind == Market.Kind.OUTRIGHT:
        names = [s.name.strip() for s in spec.selections]
        if len(names) < 2 or set(outcomes) != allowed or not all(names) or len(set(names)) != len(names):
            raise ValidationFailed(
                "An outright lists two or more named competitors.", code="invalid_market", details={"kind": spec.kind}
            )
        if not 1 <= spec.paying_places < len(names):
            raise ValidationFailed("Paying places are fewer than the competitors.", code="invalid_market")
    else:
        if not has_teams:
            raise ValidationFailed(f"A {spec.kind} market needs home and away.", code="invalid_market")
        if sorted(outcomes) != sorted(allowed):
            raise ValidationFailed(
                f"A {spec.kind} market offers exactly {', '.join(sorted(allowed))}.",
                code="invalid_market",
                details={"kind": spec.kind, "outcomes": outcomes},
            )
    needs_line = spec.kind in (Market.Kind.SPREAD, Market.Kind.TOTAL)
    if needs_line != (spec.line is not None):
        raise ValidationFailed(
            f"A {spec.kind} market {'needs' if needs_line else 'has no'} line.", code="invalid_market"
        )
    if spec.line is not None and (spec.line * 4) % 1 != 0:
        raise ValidationFailed("A line is in quarter points (x.25, x.5, x.75).", code="invalid_line")


def event_create(*, spec: EventSpec, now: datetime | None = None) -> Event:
    """An operator's event with its markets and selections (provider `manual`)."""
    now = now or timezone.now()
    has_teams = bool(spec.home.strip() and spec.away.strip())
    if bool(spec.home.strip()) != bool(spec.away.strip()):
        raise ValidationFailed("An event has both home and away, or neither.", code="invalid_event")
    if not spec.markets:
        raise ValidationFailed("An event needs at least one market.", code="invalid_event")
    for market_spec in spec.markets:
        _market_check(market_spec, has_teams=has_teams)
    try:
        with transaction.atomic(durable=True):
            sport, _ = Sport.objects.get_or_create(key=spec.sport.upper(), defaults={"name": spec.sport.title()})
            league = None
            if spec.league:
                league, _ = League.objects.get_or_create(
                    key=spec.league.upper(), defaults={"sport": sport, "name": spec.league}
                )
            home = _competitor(sport, spec.home.strip()) if has_teams else None
            away = _competitor(sport, spec.away.strip()) if has_teams else None
            event = Event.objects.create(
                provider=MANUAL_PROVIDER,
                external_id=spec.external_id or uuid.uuid4().hex,
                sport=sport,
                league=league,
                name=spec.name or (f"{home} vs {away}" if home else "Outright"),
                home=home,
                away=away,
                scheduled_start=spec.scheduled_start,
                created_at=now,
                updated_at=now,
            )
            for index, market_spec in enumerate(spec.markets):
                _market_create(event, market_spec, index=index, now=now)
            event_odds_emit(event.pk)
    except IntegrityError as exc:
        if constraint_name(exc) != "event_provider_external_unique":
            raise
        raise Conflict("An event with this external id exists.", code="event_exists") from None
    return event


def _market_create(event: Event, spec: MarketSpec, *, index: int, now: datetime) -> Market:
    names = {"home": str(event.home), "away": str(event.away), "draw": "Draw", "over": "Over", "under": "Under"}
    market = Market.objects.create(
        event=event,
        kind=spec.kind,
        key=f"{spec.kind}:{index}" + (f"@{spec.line}" if spec.line is not None else ""),
        name=spec.name or Market.Kind(spec.kind).label + (f" {spec.line}" if spec.line is not None else ""),
        line=spec.line,
        paying_places=spec.paying_places,
        in_play=spec.in_play,
        created_at=now,
        updated_at=now,
    )
    rows = []
    for s in spec.selections:
        competitor = _competitor(event.sport, s.name.strip()) if s.outcome == "competitor" else None
        rows.append(
            Selection(
                market=market,
                outcome=s.outcome,
                competitor=competitor,
                name=(s.name or names.get(s.outcome, s.outcome))[:128],
                odds=s.odds,
                odds_updated_at=now,
            )
        )
    Selection.objects.bulk_create(rows)
    return market


def market_update(
    *,
    market_id: int,
    action: str | None = None,
    odds: Mapping[int, str | Decimal] | None = None,
    now: datetime | None = None,
) -> Market:
    """Reprice selections and/or suspend, resume, void or close a market."""
    now = now or timezone.now()
    if action is not None and action not in MARKET_ACTIONS:
        raise ValidationFailed(
            f"Unknown action {action!r}.", code="invalid_action", details={"actions": MARKET_ACTIONS}
        )
    prices: dict[int, Decimal] = {}
    for selection_id, value in (odds or {}).items():
        try:
            prices[int(selection_id)] = parse_decimal(value)
        except (OddsFormatError, ValueError) as exc:
            raise ValidationFailed(str(exc), code="invalid_odds", details={"selection": selection_id}) from None
    if action is None and not prices:
        raise ValidationFailed("Nothing to change: send odds and/or an action.", code="nothing_to_change")
    with transaction.atomic(durable=True):
        market = Market.objects.select_for_update().filter(pk=market_id).first()
        if market is None:
            raise NotFound("No such market.", details={"market": market_id})
        if prices:
            _reprice(market, prices, now=now)
        if action == "suspend":
            market_status_set(market, status=Market.Status.SUSPENDED, now=now, operator_hold=True)
        elif action == "resume":
            if market.status != Market.Status.SUSPENDED:
                raise Conflict("Only a suspended market resumes.", code="market_state_conflict")
            market_status_set(market, status=Market.Status.OPEN, now=now, operator_hold=False)
        elif action == "void":
            market_status_set(market, status=Market.Status.VOID, now=now)
            Selection.objects.filter(market=market).exclude(status=Selection.Status.VOID).update(
                status=Selection.Status.VOID
            )
            result_recorded(market.event_id)  # its bets are void now: settlement need not wait for the event
        elif action == "close":
            market_status_set(market, status=Market.Status.CLOSED, now=now)
        event_odds_emit(market.event_id, market_ids=[market.pk])
        if prices or action == "resume":
            odds_changed([market.pk])
    return market


def _reprice(market: Market, prices: dict[int, Decimal], *, now: datetime) -> None:
    if market.status not in (Market.Status.OPEN, Market.Status.SUSPENDED):
        raise Conflict(f"A {market.status} market is not repriced.", code="market_state_conflict")
    known = set(Selection.objects.filter(market=market).values_list("pk", flat=True))
    unknown = sorted(set(prices) - known)
    if unknown:
        raise ValidationFailed(
            "Those selections are not in this market.", code="invalid_selection", details={"selections": unknown}
        )
    for selection_id, price in prices.items():
        Selection.objects.filter(pk=selection_id).update(odds=price, odds_updated_at=now)


def event_result_record(
    *,
    event_id: int,
    status: str,
    home_score: int | None = None,
    away_score: int | None = None,
    placings: Mapping[int, int] | None = None,
    now: datetime | None = None,
) -> Event:
    """Record what happened: final scores and/or outright placings, or another status (live,
    postponed, abandoned, cancelled). A corrected final result bumps the result version."""
    now = now or timezone.now()
    if status not in Event.Status.values:
        raise ValidationFailed(f"Unknown status {status!r}.", code="invalid_status")
    for score in (home_score, away_score):
        if score is not None and score < 0:
            raise ValidationFailed("Scores are whole numbers from 0.", code="invalid_score")
    with transaction.atomic(durable=True):
        event = Event.objects.select_for_update().filter(pk=event_id).first()
        if event is None:
            raise NotFound("No such event.", details={"event": event_id})
        placings_changed = False
        if status == Event.Status.FINISHED:
            if event.home_id and (home_score is None or away_score is None):
                raise ValidationFailed("A finished match needs both scores.", code="scores_required")
            placings_changed = _placings_set(event, placings or {})
        elif placings:
            raise ValidationFailed("Placings are recorded with a finished result.", code="invalid_result")
        state = event_state_apply(
            event, status=status, now=now, home_score=home_score, away_score=away_score, force_result=placings_changed
        )
        if state.refused:
            raise Conflict(
                f"The event cannot go {state.refused}.", code="event_state_conflict", details={"status": event.status}
            )
        if state.status_changed or state.result_changed:
            event_odds_emit(event.pk)
        if state.result_changed:
            result_recorded(event.pk)
    return event


def _placings_set(event: Event, placings: Mapping[int, int]) -> bool:
    if not placings:
        if not event.home_id:
            raise ValidationFailed("An outright result names the placings.", code="placings_required")
        return False
    outright = Selection.objects.filter(market__event=event, market__kind=Market.Kind.OUTRIGHT)
    current = dict(outright.values_list("pk", "placing"))
    unknown = sorted(set(placings) - set(current))
    if unknown or any(place < 1 for place in placings.values()):
        raise ValidationFailed(
            "Placings name this event's outright selections with places from 1.",
            code="invalid_placings",
            details={"selections": unknown},
        )
    wanted = {pk: placings.get(pk) for pk in current}
    if wanted == current:
        return False
    for pk, place in wanted.items():
        if current[pk] != place:
            outright.filter(pk=pk).update(placing=place)
    return True


def player_limits_set(
    *,
    user_id: int,
    daily_stake_limits: Mapping[str, int] | None = None,
    self_exclude_days: int | None = None,
    now: datetime | None = None,
) -> PlayerLimits:
    """Set a player's daily stake limits and/or exclude them from betting for some days.

    A self-exclusion only ever lengthens: a shorter one does not lift the current one.
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        limits, _ = PlayerLimits.objects.select_for_update().get_or_create(user_id=user_id)
        if daily_stake_limits is not None:
            for currency, amount in daily_stake_limits.items():
                get_currency(currency)
                if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
                    raise ValidationFailed(
                        "A daily stake limit is a whole number of minor units.", code="invalid_amount"
                    )
            limits.daily_stake_limits = dict(daily_stake_limits)
        if self_exclude_days is not None:
            if self_exclude_days < 1:
                raise ValidationFailed("A self-exclusion lasts at least one day.", code="invalid_exclusion")
            until = now + timedelta(days=self_exclude_days)
            if limits.self_excluded_until is None or until > limits.self_excluded_until:
                limits.self_excluded_until = until
        limits.updated_at = now
        limits.save()
    return limits
