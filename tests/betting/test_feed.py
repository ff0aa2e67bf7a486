"""The SportsGameOdds adapter and sync against the local fake feed (a real HTTP server)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from betting.feed.sportsgameodds import FeedError, SportsGameOddsClient, fake_base_url
from betting.feed.sync import events_sync
from betting.hooks import _result_hooks, on_result_recorded
from betting.models import Event, Market, Selection
from betting.odds import american_to_decimal
from betting.services import market_update
from realtime.models import OutboxEvent
from tests.betting.conftest import FROZEN_AT
from tests.fakes.sportsgameodds import FakeSportsGameOdds

pytestmark = pytest.mark.django_db


@pytest.fixture
def frozen() -> Iterator[Any]:
    with time_machine.travel(FROZEN_AT, tick=False) as traveller:
        yield traveller


def payload_of(sgo: FakeSportsGameOdds, event_id: str) -> dict[str, Any]:
    return next(e for e in sgo.events(FROZEN_AT) if e["eventID"] == event_id)


def upcoming_ids(sgo: FakeSportsGameOdds) -> list[str]:
    """Games priced and yet to start inside the sync window (2 hours either way)."""
    return [
        e["eventID"]
        for e in sgo.events(FROZEN_AT)
        if e["odds"] and not e["status"]["started"] and e["status"]["startsAt"] < "2026-03-14T23:05"
    ]


def test_sync_builds_the_catalogue_of_every_sport(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    report = events_sync()

    assert report.fetched == report.created > 0 and not report.rejected
    assert set(Event.objects.values_list("league__key", flat=True)) == {"NBA", "NFL", "EPL"}
    assert set(Event.objects.values_list("sport__key", flat=True)) == {"BASKETBALL", "FOOTBALL", "SOCCER"}
    # Soccer has its 3-way market and a quarter-line spread.
    three_way = Market.objects.filter(event__league__key="EPL", kind="1x2").first()
    assert three_way is not None
    assert sorted(three_way.selections.values_list("outcome", flat=True)) == ["away", "draw", "home"]
    quarter = Market.objects.filter(event__league__key="EPL", kind="spread").exclude(status="closed").first()
    assert quarter is not None and quarter.line is not None and abs(quarter.line * 4) % 2 == 1
    # A finished game with its final score and a first result version; its markets closed.
    finished = Event.objects.filter(status=Event.Status.FINISHED).first()
    assert finished is not None
    final = payload_of(sgo, finished.external_id)["results"]["game"]
    assert (finished.home_score, finished.away_score) == (final["home"]["points"], final["away"]["points"])
    assert finished.result_version == 1 and finished.result_received_at == FROZEN_AT
    assert not finished.markets.exclude(status=Market.Status.CLOSED).exists()
    # Live games keep in-play markets open; a cancelled game has no markets to bet.
    live = Event.objects.filter(status=Event.Status.LIVE).first()
    assert live is not None and live.actual_start is not None
    assert Event.objects.filter(status=Event.Status.CANCELLED).exists()
    # American odds from the feed become decimal odds.
    scheduled = Event.objects.filter(status=Event.Status.SCHEDULED, league__key="NBA").first()
    assert scheduled is not None
    ml_home = Selection.objects.get(market__event=scheduled, market__kind="moneyline", outcome="home")
    wire = payload_of(sgo, scheduled.external_id)["odds"]["points-home-game-ml-home"]["bookOdds"]
    assert ml_home.odds == american_to_decimal(wire) and ml_home.status == Selection.Status.OPEN


def test_a_second_sync_of_the_same_feed_changes_nothing(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    events_sync()
    counts = (Event.objects.count(), Market.objects.count(), Selection.objects.count(), OutboxEvent.objects.count())
    stamps = set(Market.objects.values_list("updated_at", flat=True))

    report = events_sync()

    assert report.unchanged == report.fetched and report.created == report.updated == 0
    assert (
        Event.objects.count(),
        Market.objects.count(),
        Selection.objects.count(),
        OutboxEvent.objects.count(),
    ) == counts
    assert set(Market.objects.values_list("updated_at", flat=True)) == stamps


def test_paging_follows_the_cursor_to_the_404_end(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    everything = SportsGameOddsClient(page_limit=300).events()
    total = len(everything)
    limit = next(n for n in range(5, total) if total % n == 0)  # the last page is full

    items = SportsGameOddsClient(page_limit=limit).events()

    assert [e["eventID"] for e in items] == [e["eventID"] for e in everything]
    pages = total // limit
    assert len(sgo.requests) == 1 + pages + 1  # the first listing, the pages, and the 404
    assert "cursor" in sgo.requests[-1] and "cursor" not in sgo.requests[1]


def test_paging_ends_on_a_short_page_without_a_cursor(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    total = len(SportsGameOddsClient(page_limit=300).events())
    limit = next(n for n in range(5, total) if total % n)
    sgo.requests.clear()

    assert len(SportsGameOddsClient(page_limit=limit).events()) == total
    assert len(sgo.requests) == -(-total // limit)


def test_retry_on_500_then_success(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    sgo.fail_next(500, times=2)

    report = events_sync()

    assert report.created > 0
    assert len(sgo.requests) == 3  # two 500s, then the page


def test_a_feed_that_stays_down_writes_nothing(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    sgo.fail_next(503, times=10)

    with pytest.raises(FeedError):
        events_sync()
    assert not Event.objects.exists()


def test_a_broken_page_anywhere_writes_nothing(sgo: FakeSportsGameOdds, frozen: Any, settings: Any) -> None:
    settings.SPORTSGAMEODDS_PAGE_LIMIT = 5
    sgo.fail_next(200, after=1, body={"success": True, "data": "not a list"})

    with pytest.raises(FeedError, match="no list of events"):
        events_sync()
    assert not Event.objects.exists() and not OutboxEvent.objects.exists()


def test_an_error_envelope_is_an_error(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    sgo.fail_next(200, body={"success": False, "error": "quota exceeded"})

    with pytest.raises(FeedError) as caught:
        events_sync()
    assert caught.value.details["error"] == "quota exceeded"


def test_a_malformed_event_is_rejected_whole_with_a_logged_reason(
    sgo: FakeSportsGameOdds, frozen: Any, caplog: pytest.LogCaptureFixture
) -> None:
    victim = upcoming_ids(sgo)[-1]

    def corrupt(payload: dict[str, Any]) -> None:
        payload["odds"]["points-home-game-sp-home"]["bookOdds"] = "+5O"

    sgo.mutate(victim, corrupt)

    report = events_sync()

    assert report.rejected and report.rejected[0][0] == victim
    assert not Event.objects.filter(external_id=victim).exists()
    assert Event.objects.count() == report.fetched - 1
    reasons = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "feed.event_rejected"]
    assert reasons and reasons[0]["event_id"] == victim and "bookOdds" in reasons[0]["reason"]


def test_a_malformed_update_leaves_the_event_as_it_was(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    events_sync()
    event = Event.objects.filter(status=Event.Status.SCHEDULED, league__key="NBA").first()
    assert event is not None
    before = dict(Selection.objects.filter(market__event=event).values_list("pk", "odds"))

    def reprice_and_break(payload: dict[str, Any]) -> None:
        payload["odds"]["points-home-game-ml-home"]["bookOdds"] = "+900"  # would be a change...
        payload["odds"]["points-all-game-ou-over"]["bookOverUnder"] = "220.3"  # ...but this is not a line

    sgo.mutate(event.external_id, reprice_and_break)
    report = events_sync()

    assert [r[0] for r in report.rejected] == [event.external_id]
    assert dict(Selection.objects.filter(market__event=event).values_list("pk", "odds")) == before


def test_vanished_odds_suspend_the_market_until_they_return(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    events_sync()
    event = Event.objects.filter(status=Event.Status.SCHEDULED, league__key="NFL").first()
    assert event is not None
    moneyline = Market.objects.get(event=event, kind="moneyline")

    sgo.mutate(event.external_id, lambda p: p["odds"]["points-home-game-ml-home"].pop("bookOdds"))
    events_sync()
    moneyline.refresh_from_db()
    assert moneyline.status == Market.Status.SUSPENDED
    assert moneyline.selections.get(outcome="home").status == Selection.Status.SUSPENDED
    assert Market.objects.get(event=event, kind="total").status == Market.Status.OPEN

    sgo.mutations.clear()
    events_sync()
    moneyline.refresh_from_db()
    assert moneyline.status == Market.Status.OPEN
    assert moneyline.selections.get(outcome="home").status == Selection.Status.OPEN


def test_an_operator_suspension_outlives_the_feed(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    events_sync()
    market = Market.objects.filter(event__status=Event.Status.SCHEDULED, kind="moneyline").first()
    assert market is not None
    market_update(market_id=market.pk, action="suspend")

    events_sync()

    market.refresh_from_db()
    assert market.status == Market.Status.SUSPENDED and market.operator_hold


def test_a_moved_line_is_a_new_market(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    events_sync()
    event = Event.objects.filter(status=Event.Status.SCHEDULED, league__key="NBA").first()
    assert event is not None
    old = Market.objects.get(event=event, kind="total")

    def move(payload: dict[str, Any]) -> None:
        for side in ("over", "under"):
            payload["odds"][f"points-all-game-ou-{side}"]["bookOverUnder"] = str(old.line + 3)

    sgo.mutate(event.external_id, move)
    events_sync()

    old.refresh_from_db()
    new = Market.objects.get(event=event, kind="total", status=Market.Status.OPEN)
    assert old.status == Market.Status.SUSPENDED and old.line is not None
    assert new.line == old.line + 3 and new.pk != old.pk


def test_games_finish_on_the_clock_and_report_their_result(
    sgo: FakeSportsGameOdds, frozen: Any, django_capture_on_commit_callbacks: Any
) -> None:
    heard: list[int] = []
    on_result_recorded(heard.append)
    try:
        events_sync()
        live = Event.objects.filter(status=Event.Status.LIVE).order_by("scheduled_start").first()
        assert live is not None
        game = next(g for g in sgo.games(FROZEN_AT) if g.event_id == live.external_id)

        frozen.move_to(game.ends_at + timedelta(minutes=3))
        with django_capture_on_commit_callbacks(execute=True):
            events_sync()
    finally:
        _result_hooks.remove(heard.append)

    live.refresh_from_db()
    assert live.status == Event.Status.FINISHED
    assert (live.home_score, live.away_score) == (game.final_home, game.final_away)
    assert live.result_version == 1 and live.finished_at is not None
    assert not live.markets.exclude(status=Market.Status.CLOSED).exists()
    assert live.pk in heard
    assert OutboxEvent.objects.filter(type="odds.updated", topic=f"event:{live.pk}").exists()


def test_a_corrected_score_bumps_the_result_version(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    events_sync()
    finished = Event.objects.filter(status=Event.Status.FINISHED).first()
    assert finished is not None

    def correct(payload: dict[str, Any]) -> None:
        payload["results"]["game"]["home"]["points"] += 1

    sgo.mutate(finished.external_id, correct)
    events_sync()
    events_sync()  # the same correction again is not a new version

    old_home = finished.home_score
    finished.refresh_from_db()
    assert finished.result_version == 2 and finished.home_score == (old_home or 0) + 1


def test_a_league_filter_and_the_api_key_reach_the_provider(
    sgo: FakeSportsGameOdds, frozen: Any, settings: Any
) -> None:
    sgo.api_key = "s3cret"
    settings.SPORTSGAMEODDS_API_KEY = "s3cret"
    settings.SPORTSGAMEODDS_BASE_URL = f"{fake_base_url()}/v2"

    events_sync(league="EPL")

    assert set(Event.objects.values_list("league__key", flat=True)) == {"EPL"}
    assert sgo.requests[0]["leagueID"] == "EPL"

    settings.SPORTSGAMEODDS_API_KEY = "wrong"
    with pytest.raises(FeedError) as caught:
        events_sync(league="EPL")
    assert caught.value.details["status"] == 401


def test_outcome_odds_stay_decimal_with_four_places(sgo: FakeSportsGameOdds, frozen: Any) -> None:
    events_sync()
    for odds in Selection.objects.values_list("odds", flat=True):
        assert odds > 1 and odds == odds.quantize(Decimal("0.0001"))
