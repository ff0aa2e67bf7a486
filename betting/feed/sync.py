"""Sync fixtures, odds and results from SportsGameOdds into the catalogue.

Every page is fetched before anything is written (no network call inside a transaction); a
broken envelope anywhere aborts the whole sync with nothing written. Each event is then parsed
and upserted in its own transaction: a malformed event is rejected whole with a logged reason,
the others are written. Upserts are idempotent: a second sync of the same feed changes nothing
and emits nothing. A market whose odds vanish is suspended; when they return it reopens (unless
an operator suspended it). A moved line is a new market, so bets keep the line they took.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from betting.feed.sportsgameodds import (
    PROVIDER,
    FeedEvent,
    FeedMarket,
    FeedTeam,
    MalformedEvent,
    SportsGameOddsClient,
    parse_event,
)
from betting.hooks import odds_changed, result_recorded
from betting.models import Competitor, Event, League, Market, Selection, Sport
from betting.services.catalogue import (
    BETTABLE_EVENT_STATUSES,
    event_odds_emit,
    event_state_apply,
    markets_close,
)
from core.metrics import FEED_EVENTS

log = structlog.get_logger(__name__)

SPORT_NAMES = {"BASKETBALL": "Basketball", "FOOTBALL": "American football", "SOCCER": "Soccer"}
LEAGUE_NAMES = {
    "EPL": "English Premier League",
    "NBA": "NBA",
    "NFL": "NFL",
    "MLS": "MLS",
    "UEFA_CL": "Champions League",
}


@dataclass
class SyncReport:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "fetched": self.fetched,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": len(self.rejected),
        }


def events_sync(
    *, league: str | None = None, client: SportsGameOddsClient | None = None, now: datetime | None = None
) -> SyncReport:
    """Fetch the feed's events around now (recent results, live games, upcoming fixtures) and
    upsert them. Raises FeedError (nothing written) when the feed cannot be read as a whole."""
    client = client or SportsGameOddsClient()
    now = now or timezone.now()
    window = {
        "startsAfter": _iso(now - timedelta(hours=settings.SPORTSGAMEODDS_LOOKBACK_HOURS)),
        "startsBefore": _iso(now + timedelta(hours=settings.SPORTSGAMEODDS_LOOKAHEAD_HOURS)),
    }
    leagues: list[str | None] = [league] if league else list(settings.SPORTSGAMEODDS_LEAGUES) or [None]
    raw: list[dict[str, Any]] = []
    for league_id in leagues:
        raw.extend(client.events(**window, **({"leagueID": league_id} if league_id else {})))

    report = SyncReport(fetched=len(raw))
    parsed: list[FeedEvent] = []
    for item in raw:
        try:
            parsed.append(parse_event(item))
        except MalformedEvent as exc:
            event_id = str(item.get("eventID", "?"))[:128]
            report.rejected.append((event_id, str(exc)))
            FEED_EVENTS.labels("rejected").inc()
            log.warning("feed.event_rejected", provider=PROVIDER, event_id=event_id, reason=str(exc))

    cache = _Lookups()
    for feed_event in parsed:
        with transaction.atomic(durable=True):
            outcome = _event_upsert(feed_event, now=now, cache=cache)
        setattr(report, outcome, getattr(report, outcome) + 1)
        FEED_EVENTS.labels(outcome).inc()
    log.info("feed.synced", provider=PROVIDER, league=league, **report.as_dict())
    return report


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Lookups:
    """Sports, leagues and competitors met during one sync, so each is looked up once."""

    def __init__(self) -> None:
        self.sports: dict[str, Sport] = {}
        self.leagues: dict[str, League] = {}
        self.competitors: dict[str, Competitor] = {}

    def sport(self, key: str) -> Sport:
        if key not in self.sports:
            Sport.objects.bulk_create([Sport(key=key, name=SPORT_NAMES.get(key, key.title()))], ignore_conflicts=True)
            self.sports[key] = Sport.objects.get(key=key)
        return self.sports[key]

    def league(self, key: str, sport: Sport) -> League:
        if key not in self.leagues:
            League.objects.bulk_create(
                [League(key=key, sport=sport, name=LEAGUE_NAMES.get(key, key))], ignore_conflicts=True
            )
            self.leagues[key] = League.objects.get(key=key)
        return self.leagues[key]

    def competitor(self, team: FeedTeam, sport: Sport) -> Competitor:
        cached = self.competitors.get(team.external_id)
        if cached is not None:
            return cached
        Competitor.objects.bulk_create(
            [
                Competitor(
                    sport=sport,
                    provider=PROVIDER,
                    external_id=team.external_id,
                    name=team.name,
                    short_name=team.short_name,
                )
            ],
            ignore_conflicts=True,
        )
        competitor = Competitor.objects.get(provider=PROVIDER, external_id=team.external_id)
        if (competitor.name, competitor.short_name) != (team.name, team.short_name):
            Competitor.objects.filter(pk=competitor.pk).update(name=team.name, short_name=team.short_name)
            competitor.name, competitor.short_name = team.name, team.short_name
        self.competitors[team.external_id] = competitor
        return competitor


def _event_locked(feed_event: FeedEvent, *, now: datetime, cache: _Lookups) -> tuple[Event, bool]:
    rows = Event.objects.select_for_update().filter(provider=PROVIDER, external_id=feed_event.external_id)
    event = rows.first()
    if event is not None:
        return event, False
    sport = cache.sport(feed_event.sport_key)
    home, away = cache.competitor(feed_event.home, sport), cache.competitor(feed_event.away, sport)
    try:
        with transaction.atomic():
            event = Event.objects.create(
                provider=PROVIDER,
                external_id=feed_event.external_id,
                sport=sport,
                league=cache.league(feed_event.league_key, sport),
                name=f"{home.name} vs {away.name}",
                home=home,
                away=away,
                scheduled_start=feed_event.starts_at,
                created_at=now,
                updated_at=now,
            )
        return event, True
    except IntegrityError:  # another sync made it a moment ago
        return rows.get(), False


def _event_upsert(feed_event: FeedEvent, *, now: datetime, cache: _Lookups) -> str:
    event, created = _event_locked(feed_event, now=now, cache=cache)
    changed = created
    if feed_event.starts_at != event.scheduled_start and event.status in (
        Event.Status.SCHEDULED,
        Event.Status.POSTPONED,
    ):
        # The first start is kept: bets were placed against it and the void window runs from it.
        original = event.original_start or event.scheduled_start
        Event.objects.filter(pk=event.pk).update(
            scheduled_start=feed_event.starts_at, original_start=original, updated_at=now
        )
        event.scheduled_start, event.original_start = feed_event.starts_at, original
        changed = True

    state = event_state_apply(
        event,
        status=feed_event.status,
        now=now,
        home_score=feed_event.home_score,
        away_score=feed_event.away_score,
        started_at=feed_event.starts_at,
    )
    if state.refused:
        log.warning("feed.transition_refused", event_id=feed_event.external_id, transition=state.refused)
    changed = changed or state.changed

    touched = _markets_upsert(event, feed_event, now=now)
    if touched or state.status_changed:
        event_odds_emit(event.pk)
    odds_changed(sorted(touched))
    if state.result_changed:
        result_recorded(event.pk)
    if created:
        return "created"
    return "updated" if changed or touched else "unchanged"


def _markets_upsert(event: Event, feed_event: FeedEvent, *, now: datetime) -> set[int]:
    """Create, reprice, suspend and reopen the event's markets; returns the markets changed."""
    bettable = event.status in BETTABLE_EVENT_STATUSES and not feed_event.ended
    existing = {m.key: m for m in Market.objects.select_for_update().filter(event=event).order_by("pk")}
    selections: dict[int, dict[str, Selection]] = {}
    for sel in Selection.objects.filter(market__event=event).order_by("pk"):
        selections.setdefault(sel.market_id, {})[sel.outcome] = sel
    touched: set[int] = set()

    for feed_market in feed_event.markets:
        market = existing.get(feed_market.key)
        if market is None:
            created = _market_create(event, feed_market, bettable=bettable, now=now)
            if created is not None:
                touched.add(created.pk)
            continue
        if _market_refresh(market, feed_market, selections.get(market.pk, {}), bettable=bettable, now=now):
            touched.add(market.pk)

    feed_keys = {m.key for m in feed_event.markets}
    for key, market in existing.items():
        if key not in feed_keys and market.status == Market.Status.OPEN:
            Market.objects.filter(pk=market.pk, status=Market.Status.OPEN).update(
                status=Market.Status.SUSPENDED, updated_at=now
            )
            touched.add(market.pk)
    if feed_event.ended and event.status == Event.Status.LIVE:
        # Over but not yet final: no more bets while the result is confirmed.
        if markets_close([m.pk for m in existing.values()], now=now):
            touched.update(m.pk for m in existing.values())
    return touched


def _market_create(event: Event, feed_market: FeedMarket, *, bettable: bool, now: datetime) -> Market | None:
    if not feed_market.complete:
        return None  # a market is first shown with a price on every side
    market = Market.objects.create(
        event=event,
        kind=feed_market.kind,
        key=feed_market.key,
        name=feed_market.name,
        line=feed_market.line,
        status=Market.Status.OPEN if bettable else Market.Status.CLOSED,
        in_play=True,  # the feed prices its main markets through the game
        created_at=now,
        updated_at=now,
    )
    Selection.objects.bulk_create(
        [
            Selection(market=market, outcome=s.outcome, name=s.name[:128], odds=s.odds, odds_updated_at=now)
            for s in feed_market.selections
            if s.odds is not None  # all of them: the market is complete
        ]
    )
    return market


def _market_refresh(
    market: Market,
    feed_market: FeedMarket,
    selections: dict[str, Selection],
    *,
    bettable: bool,
    now: datetime,
) -> bool:
    if market.status not in (Market.Status.OPEN, Market.Status.SUSPENDED):
        return False  # closed, settled or void: the feed no longer moves it
    # The market's row lock (taken above) serialises this with operators' repricing, so the
    # changed selections are written in one statement.
    moved: list[Selection] = []
    for feed_selection in feed_market.selections:
        selection = selections.get(feed_selection.outcome)
        if selection is None or selection.status not in (Selection.Status.OPEN, Selection.Status.SUSPENDED):
            continue
        before = (selection.status, selection.odds)
        if feed_selection.odds is None:
            selection.status = Selection.Status.SUSPENDED
        else:
            selection.status = Selection.Status.OPEN
            if feed_selection.odds != selection.odds:
                selection.odds, selection.odds_updated_at = feed_selection.odds, now
        if (selection.status, selection.odds) != before:
            moved.append(selection)
    if moved:
        Selection.objects.bulk_update(moved, ["status", "odds", "odds_updated_at"])
    changed = bool(moved)

    if bettable and feed_market.complete:
        target = Market.Status.SUSPENDED if market.operator_hold else Market.Status.OPEN
    else:
        target = Market.Status.SUSPENDED
    if target != market.status:
        Market.objects.filter(pk=market.pk, status=market.status).update(status=target, updated_at=now)
        changed = True
    return changed
