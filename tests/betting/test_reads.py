"""GET /api/events, /api/events/<id>, /api/bets, /api/bets/<id>."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework.test import APIClient

from betting.services import event_result_record, market_update
from tests.betting.conftest import selection_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def slate(make_event: Callable[..., Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "soon": make_event(start=now + timedelta(hours=1), home="Arsenal", away="Chelsea"),
        "later": make_event(start=now + timedelta(days=2), home="Liverpool", away="Everton"),
        "live": make_event(start=now + timedelta(minutes=5), home="Leeds", away="Fulham"),
    }


def test_events_are_public_with_their_open_markets(api: APIClient, slate: dict[str, Any]) -> None:
    market_update(market_id=selection_of(slate["soon"], "total", "over").market_id, action="close")

    body = api.get("/api/events").json()

    assert [e["name"] for e in body["results"]] == ["Leeds vs Fulham", "Arsenal vs Chelsea", "Liverpool vs Everton"]
    soon = next(e for e in body["results"] if e["id"] == slate["soon"].pk)
    assert sorted(m["kind"] for m in soon["markets"]) == ["1x2", "moneyline", "spread"]  # the closed total is gone
    spread = next(m for m in soon["markets"] if m["kind"] == "spread")
    assert spread["line"] == "-0.75"
    assert {s["outcome"]: s["line"] for s in spread["selections"]} == {"home": "-0.75", "away": "0.75"}
    assert soon["home"]["name"] == "Arsenal" and soon["sport"] == "SOCCER" and soon["league"] == "EPL"


def test_event_filters(api: APIClient, slate: dict[str, Any]) -> None:
    event_result_record(event_id=slate["live"].pk, status="live")

    def names(query: str) -> list[str]:
        response = api.get(f"/api/events?{query}")
        assert response.status_code == 200, response.json()
        return [e["name"] for e in response.json()["results"]]

    assert names("status=live") == ["Leeds vs Fulham"]
    assert names("status=scheduled&q=chel") == ["Arsenal vs Chelsea"]
    assert names("sport=soccer&league=EPL&q=everton") == ["Liverpool vs Everton"]
    assert names("sport=basketball") == []
    after = (datetime.now(UTC) + timedelta(hours=3)).isoformat().replace("+00:00", "Z")
    assert names(f"starts_after={after}") == ["Liverpool vs Everton"]
    assert names(f"starts_before={after}&status=scheduled") == ["Arsenal vs Chelsea"]
    assert api.get("/api/events?starts_after=yesterday").status_code == 400


def test_an_event_in_every_odds_format(api: APIClient, slate: dict[str, Any]) -> None:
    event = slate["soon"]

    def home_moneyline(fmt: str) -> dict[str, Any]:
        body = api.get(f"/api/events/{event.pk}?odds_format={fmt}").json()
        market = next(m for m in body["markets"] if m["kind"] == "moneyline")
        return dict(next(s for s in market["selections"] if s["outcome"] == "home"))

    assert home_moneyline("decimal")["odds"] == "1.9000"
    assert home_moneyline("american")["odds"] == "-111"
    assert home_moneyline("fractional")["odds"] == "9/10"
    assert home_moneyline("american")["odds_decimal"] == "1.9000"
    bad = api.get(f"/api/events/{event.pk}?odds_format=hongkong")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_odds_format"
    assert api.get("/api/events/999999").status_code == 404


def test_an_event_shows_every_market_including_closed(api: APIClient, slate: dict[str, Any]) -> None:
    event = slate["soon"]
    market_update(market_id=selection_of(event, "total", "over").market_id, action="close")

    body = api.get(f"/api/events/{event.pk}").json()

    assert {m["kind"]: m["status"] for m in body["markets"]}["total"] == "closed"


def _place(api: APIClient, selection: Any, stake: int = 1_000) -> int:
    response = api.post(
        "/api/bets",
        {"type": "single", "stake": stake, "currency": "NGN", "legs": [{"selection": selection.pk, "odds": "1.90"}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert response.status_code == 201, response.json()
    return int(response.json()["id"])


def test_players_see_their_own_bets_only(
    auth_api: APIClient, user: Any, make_user: Callable[..., Any], fund: Any, slate: dict[str, Any]
) -> None:
    other = make_user()
    fund(user, 100_000, "NGN")
    fund(other, 100_000, "NGN")
    other_api = APIClient()
    other_api.force_authenticate(other)
    home = selection_of(slate["soon"], "moneyline", "home")
    mine = [_place(auth_api, home), _place(auth_api, home, 2_000)]
    theirs = _place(other_api, home)

    listing = auth_api.get("/api/bets?odds_format=american").json()
    assert [s["id"] for s in listing["results"]] == list(reversed(mine))
    assert listing["results"][0]["legs"][0]["odds"] == "-111"
    assert auth_api.get(f"/api/bets/{mine[0]}").json()["stake"]["amount"] == 1_000
    # Another player's slip is not found, exactly like one that does not exist.
    for path in (f"/api/bets/{theirs}", "/api/bets/999999"):
        response = auth_api.get(path)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert APIClient().get(f"/api/bets/{mine[0]}").status_code == 401


def test_bets_by_status(auth_api: APIClient, user: Any, fund: Any, slate: dict[str, Any]) -> None:
    fund(user, 100_000, "NGN")
    slip = _place(auth_api, selection_of(slate["soon"], "moneyline", "home"))

    assert [s["id"] for s in auth_api.get("/api/bets?status=pending").json()["results"]] == [slip]
    assert auth_api.get("/api/bets?status=won,lost").json()["results"] == []


def test_the_event_list_costs_the_same_queries_for_more_events(
    api: APIClient, make_event: Callable[..., Any], django_assert_max_num_queries: Any
) -> None:
    for _ in range(6):
        make_event()

    with django_assert_max_num_queries(6):  # count, events, markets, selections (+ savepoints)
        body = api.get("/api/events?odds_format=fractional").json()

    assert len(body["results"]) == 6
    assert all(
        s["line"] is not None
        for e in body["results"]
        for m in e["markets"]
        if m["kind"] == "spread"
        for s in m["selections"]
    )


def test_a_slip_list_costs_the_same_queries_for_more_slips(
    auth_api: APIClient, user: Any, fund: Any, make_event: Callable[..., Any], django_assert_max_num_queries: Any
) -> None:
    fund(user, 100_000, "NGN")
    for _ in range(5):
        _place(auth_api, selection_of(make_event(), "spread", "home"))

    with django_assert_max_num_queries(5):
        body = auth_api.get("/api/bets").json()

    assert len(body["results"]) == 5 and all(s["legs"][0]["line"] == "-0.75" for s in body["results"])
