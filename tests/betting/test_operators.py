"""Staff endpoints: POST /api/admin/events, PATCH /api/admin/markets/<id>,
POST /api/admin/events/<id>/result."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from betting.models import Event, Market, Selection
from realtime.models import OutboxEvent
from tests.betting.conftest import selection_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_api(staff: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(staff)
    return api


def event_body(**change: Any) -> dict[str, Any]:
    body = {
        "sport": "BASKETBALL",
        "league": "NBA",
        "home": "Lakers",
        "away": "Celtics",
        "scheduled_start": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
        "markets": [
            {
                "kind": "moneyline",
                "selections": [{"outcome": "home", "odds": "1.80"}, {"outcome": "away", "odds": "2.10"}],
            },
            {
                "kind": "spread",
                "line": "-4.5",
                "in_play": True,
                "selections": [{"outcome": "home", "odds": "1.91"}, {"outcome": "away", "odds": "1.91"}],
            },
        ],
    }
    return {**body, **change}


def test_only_staff_operate(auth_api: APIClient, api: APIClient, make_event: Callable[..., Any]) -> None:
    event = make_event()
    market = selection_of(event, "moneyline", "home").market_id
    for client, status in ((auth_api, 403), (api, 401)):
        assert client.post("/api/admin/events", event_body(), format="json").status_code == status
        assert client.patch(f"/api/admin/markets/{market}", {"action": "suspend"}, format="json").status_code == status
        assert client.post(f"/api/admin/events/{event.pk}/result", {}, format="json").status_code == status
    assert Market.objects.get(pk=market).status == "open"


def test_create_an_event_with_its_markets(staff_api: APIClient) -> None:
    response = staff_api.post("/api/admin/events", event_body(), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Lakers vs Celtics" and body["status"] == "scheduled"
    spread = next(m for m in body["markets"] if m["kind"] == "spread")
    assert spread["line"] == "-4.50" and spread["in_play"] is True
    assert [s["name"] for s in spread["selections"]] == ["Lakers", "Celtics"]
    event = Event.objects.get(pk=body["id"])
    assert event.provider == "manual" and event.home is not None
    assert OutboxEvent.objects.filter(type="odds.updated", topic=f"event:{event.pk}").exists()


def test_create_an_outright(staff_api: APIClient) -> None:
    body = {
        "sport": "GOLF",
        "name": "The Open: winner",
        "scheduled_start": (datetime.now(UTC) + timedelta(days=10)).isoformat(),
        "markets": [
            {
                "kind": "outright",
                "paying_places": 2,
                "selections": [
                    {"outcome": "competitor", "name": "Rory", "odds": "6.0"},
                    {"outcome": "competitor", "name": "Scottie", "odds": "4.5"},
                    {"outcome": "competitor", "name": "Jon", "odds": "9.0"},
                ],
            }
        ],
    }

    response = staff_api.post("/api/admin/events", body, format="json")

    assert response.status_code == 201, response.json()
    market = response.json()["markets"][0]
    assert market["paying_places"] == 2 and len(market["selections"]) == 3


@pytest.mark.parametrize(
    ("market", "code"),
    [
        (
            {"kind": "1x2", "selections": [{"outcome": "home", "odds": "2"}, {"outcome": "away", "odds": "2"}]},
            "invalid_market",
        ),
        (
            {"kind": "spread", "selections": [{"outcome": "home", "odds": "2"}, {"outcome": "away", "odds": "2"}]},
            "invalid_market",
        ),
        (
            {
                "kind": "total",
                "line": "2.3",
                "selections": [{"outcome": "over", "odds": "2"}, {"outcome": "under", "odds": "2"}],
            },
            "invalid_line",
        ),
        (
            {"kind": "moneyline", "selections": [{"outcome": "home", "odds": "1"}, {"outcome": "away", "odds": "2"}]},
            "validation_error",
        ),
    ],
)
def test_a_malformed_event_is_a_400_and_writes_nothing(staff_api: APIClient, market: dict[str, Any], code: str) -> None:
    response = staff_api.post("/api/admin/events", event_body(markets=[market]), format="json")

    assert response.status_code == 400 and response.json()["error"]["code"] == code, response.json()
    assert not Event.objects.exists()


def test_reprice_suspend_resume_and_void_a_market(staff_api: APIClient, make_event: Callable[..., Any]) -> None:
    home = selection_of(make_event(), "moneyline", "home")
    url = f"/api/admin/markets/{home.market_id}"

    repriced = staff_api.patch(url, {"odds": [{"selection": home.pk, "odds": "1.75"}]}, format="json")
    assert repriced.status_code == 200, repriced.json()
    assert Selection.objects.get(pk=home.pk).odds == Decimal("1.75")
    assert OutboxEvent.objects.filter(type="odds.updated", data__markets__0__selections__0__odds="1.7500").exists()

    suspended = staff_api.patch(url, {"action": "suspend"}, format="json").json()
    assert suspended["status"] == "suspended" and Market.objects.get(pk=home.market_id).operator_hold
    assert staff_api.patch(url, {"action": "resume"}, format="json").json()["status"] == "open"
    resumed_again = staff_api.patch(url, {"action": "resume"}, format="json")
    assert resumed_again.status_code == 409 and resumed_again.json()["error"]["code"] == "market_state_conflict"

    voided = staff_api.patch(url, {"action": "void"}, format="json").json()
    assert voided["status"] == "void" and {s["status"] for s in voided["selections"]} == {"void"}
    late = staff_api.patch(url, {"odds": [{"selection": home.pk, "odds": "1.60"}]}, format="json")
    assert late.status_code == 409


def test_market_changes_that_are_refused(staff_api: APIClient, make_event: Callable[..., Any]) -> None:
    home = selection_of(make_event(), "moneyline", "home")
    other = selection_of(make_event(), "moneyline", "away")
    url = f"/api/admin/markets/{home.market_id}"

    assert staff_api.patch(url, {"action": "explode"}, format="json").status_code == 400
    assert staff_api.patch(url, {}, format="json").json()["error"]["code"] == "nothing_to_change"
    foreign = staff_api.patch(url, {"odds": [{"selection": other.pk, "odds": "3"}]}, format="json")
    assert foreign.status_code == 400 and foreign.json()["error"]["code"] == "invalid_selection"
    assert staff_api.patch("/api/admin/markets/999999", {"action": "suspend"}, format="json").status_code == 404


def test_record_a_result_and_correct_it(staff_api: APIClient, make_event: Callable[..., Any]) -> None:
    event = make_event()
    url = f"/api/admin/events/{event.pk}/result"

    first = staff_api.post(url, {"status": "finished", "home_score": 2, "away_score": 1}, format="json")
    assert first.status_code == 200, first.json()
    assert first.json()["result_version"] == 1 and first.json()["status"] == "finished"
    assert {m["status"] for m in first.json()["markets"]} == {"closed"}

    same = staff_api.post(url, {"status": "finished", "home_score": 2, "away_score": 1}, format="json")
    assert same.json()["result_version"] == 1
    corrected = staff_api.post(url, {"status": "finished", "home_score": 2, "away_score": 2}, format="json")
    assert corrected.json()["result_version"] == 2 and corrected.json()["away_score"] == 2

    back = staff_api.post(url, {"status": "live"}, format="json")
    assert back.status_code == 409 and back.json()["error"]["code"] == "event_state_conflict"


def test_a_result_needs_its_scores(staff_api: APIClient, make_event: Callable[..., Any]) -> None:
    event = make_event()

    response = staff_api.post(
        f"/api/admin/events/{event.pk}/result", {"status": "finished", "home_score": 1}, format="json"
    )

    assert response.status_code == 400 and response.json()["error"]["code"] == "scores_required"
    assert Event.objects.get(pk=event.pk).status == "scheduled"


def test_status_changes_without_scores(staff_api: APIClient, make_event: Callable[..., Any]) -> None:
    event = make_event()
    url = f"/api/admin/events/{event.pk}/result"

    assert staff_api.post(url, {"status": "postponed"}, format="json").json()["status"] == "postponed"
    assert {m["status"] for m in staff_api.get(f"/api/events/{event.pk}").json()["markets"]} == {"suspended"}
    assert staff_api.post(url, {"status": "cancelled"}, format="json").json()["status"] == "cancelled"
    assert staff_api.post(url, {"status": "scheduled"}, format="json").status_code == 409


def test_outright_placings(staff_api: APIClient, make_event: Callable[..., Any]) -> None:
    from betting.services import MarketSpec, SelectionSpec

    outright = make_event(
        home="",
        away="",
        name="Golden Boot",
        markets=[
            MarketSpec(
                kind="outright",
                paying_places=1,
                selections=[
                    SelectionSpec(outcome="competitor", name=n, odds=o) for n, o in (("Kane", 3), ("Haaland", 2))
                ],
            )
        ],
    )
    kane, haaland = Selection.objects.filter(market__event=outright).order_by("pk")
    url = f"/api/admin/events/{outright.pk}/result"

    assert staff_api.post(url, {"status": "finished"}, format="json").json()["error"]["code"] == "placings_required"
    response = staff_api.post(
        url,
        {"status": "finished", "placings": [{"selection": kane.pk, "place": 1}, {"selection": haaland.pk, "place": 2}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["result_version"] == 1
    assert dict(Selection.objects.filter(market__event=outright).values_list("name", "placing")) == {
        "Kane": 1,
        "Haaland": 2,
    }
    tie = staff_api.post(
        url,
        {"status": "finished", "placings": [{"selection": kane.pk, "place": 1}, {"selection": haaland.pk, "place": 1}]},
        format="json",
    )
    assert tie.json()["result_version"] == 2


def test_an_external_id_is_used_once(staff_api: APIClient) -> None:
    assert staff_api.post("/api/admin/events", event_body(external_id="derby-1"), format="json").status_code == 201

    again = staff_api.post("/api/admin/events", event_body(external_id="derby-1"), format="json")

    assert again.status_code == 409 and again.json()["error"]["code"] == "event_exists"
