"""POST /api/settlement/webhook: a signed result push. HMAC-SHA256 over "<timestamp>.<raw body>",
300 s either way, constant-time; bad or missing signature 401; a replay does nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from betting.models import BetSlip, Event
from ledger.reconcile import reconcile
from settlement.models import ResultPush, SettlementRun
from settlement.services.runs import settlement_run_execute
from settlement.services.webhook import SIGNATURE_HEADER, signature_header
from tests.settlement.conftest import FINAL, Book, moneyline, slip_of

pytestmark = pytest.mark.django_db

URL = "/api/settlement/webhook"


def push(api: APIClient, body: bytes, header: str | None) -> Any:
    headers = {SIGNATURE_HEADER: header} if header is not None else {}
    return api.generic("POST", URL, body, content_type="application/json", headers=headers)


def signed(body: bytes, *, at: float | None = None, secret: str | None = None) -> str:
    return signature_header(body=body, timestamp=int(at if at is not None else time.time()), secret=secret)


def result_body(event: Event, home: int, away: int) -> bytes:
    return json.dumps({"event": event.pk, "status": "finished", "home_score": home, "away_score": away}).encode()


@pytest.fixture
def game(book: Book) -> tuple[Event, BetSlip]:
    event = book.event(moneyline())
    slip = book.bet(book.player(), book.selection(event, "moneyline", "home"))
    book.clock.move_to(FINAL, tick=False)
    return event, slip


def assert_nothing_recorded(event: Event) -> None:
    event.refresh_from_db()
    assert (event.status, event.result_version) == ("scheduled", 0)
    assert not ResultPush.objects.exists()
    assert not SettlementRun.objects.exists()


def test_a_signed_push_records_the_result_and_queues_its_settlement(api: APIClient, game: Any) -> None:
    event, slip = game
    body = result_body(event, 2, 1)
    response = push(api, body, signed(body))
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "queued" and response.json()["result_changed"] is True
    event.refresh_from_db()
    assert (event.status, event.home_score, event.away_score, event.result_version) == ("finished", 2, 1, 1)
    run = SettlementRun.objects.get()
    assert (run.trigger, run.status, run.target_event_id) == ("webhook", "queued", event.pk)
    settlement_run_execute(run_id=run.pk)  # what the worker does with the queued run
    assert slip_of(slip).status == BetSlip.Status.WON
    assert reconcile().clean


def test_an_event_by_provider_and_external_id(api: APIClient, game: Any) -> None:
    event, _ = game
    body = json.dumps({"event": {"provider": event.provider, "external_id": event.external_id}}).encode()
    response = push(api, body, signed(body))
    assert response.status_code == 202
    assert response.json()["result_changed"] is False  # no result in the push: only a settlement
    assert SettlementRun.objects.get().target_event_id == event.pk


def test_a_tampered_body_is_refused(api: APIClient, game: Any) -> None:
    event, _ = game
    header = signed(result_body(event, 0, 3))
    response = push(api, result_body(event, 3, 0), header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert_nothing_recorded(event)


def test_a_wrong_secret_is_refused(api: APIClient, game: Any) -> None:
    event, _ = game
    body = result_body(event, 2, 1)
    response = push(api, body, signed(body, secret="not-our-secret"))
    assert response.status_code == 401
    assert_nothing_recorded(event)


@pytest.mark.parametrize("skew", [-301, 301, -3600, 86_400])
def test_old_and_future_timestamps_are_refused(api: APIClient, game: Any, skew: int) -> None:
    event, _ = game
    body = result_body(event, 2, 1)
    response = push(api, body, signed(body, at=time.time() + skew))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "timestamp_out_of_tolerance"
    assert_nothing_recorded(event)


@pytest.mark.parametrize("skew", [-299, 299])
def test_timestamps_inside_the_tolerance_are_accepted(api: APIClient, game: Any, skew: int) -> None:
    event, _ = game
    body = result_body(event, 2, 1)
    assert push(api, body, signed(body, at=time.time() + skew)).status_code == 202


@pytest.mark.parametrize(
    ("header", "code"),
    [(None, "missing_signature"), ("", "missing_signature"), ("v1=abc", "bad_signature_header"),
     ("t=123", "bad_signature_header"), ("t=now,v1=ab", "bad_signature_header")],
)  # fmt: skip
def test_missing_or_malformed_signatures_are_refused(api: APIClient, game: Any, header: str | None, code: str) -> None:
    event, _ = game
    response = push(api, result_body(event, 2, 1), header)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code
    assert_nothing_recorded(event)


def test_a_replay_does_nothing(api: APIClient, game: Any) -> None:
    event, _ = game
    first = result_body(event, 2, 1)
    first_header = signed(first, at=time.time() - 60)
    assert push(api, first, first_header).status_code == 202
    correction = result_body(event, 1, 1)
    assert push(api, correction, signed(correction)).status_code == 202
    event.refresh_from_db()
    assert (event.home_score, event.away_score, event.result_version) == (1, 1, 2)

    replay = push(api, first, first_header)  # the first push again, inside the tolerance
    assert replay.status_code == 200
    assert replay.json()["status"] == "duplicate"
    event.refresh_from_db()
    assert (event.home_score, event.away_score, event.result_version) == (1, 1, 2)  # not flipped back
    assert ResultPush.objects.count() == 2
    assert SettlementRun.objects.count() == 1  # the second push found the first run still queued


def test_a_signed_body_that_is_not_json_or_names_no_event(api: APIClient, game: Any) -> None:
    event, _ = game
    for body, status in [(b"{not json", 400), (b'{"event": "x"}', 400), (b'{"event": 999999}', 404)]:
        response = push(api, body, signed(body))
        assert response.status_code == status, (body, response.json())
    assert_nothing_recorded(event)


def test_a_result_the_event_cannot_take_is_refused_and_may_be_sent_again(api: APIClient, book: Book, game: Any) -> None:
    event, _ = game
    book.result(event, "cancelled")
    body = result_body(event, 2, 1)
    header = signed(body)
    assert push(api, body, header).status_code == 409
    assert not ResultPush.objects.exists()  # not claimed: fixed, the same push is heard again
    Event.objects.filter(pk=event.pk).update(status="scheduled")
    assert push(api, body, header).status_code == 202


def test_no_secret_configured_refuses_everything(api: APIClient, game: Any, settings: Any) -> None:
    event, _ = game
    body = result_body(event, 2, 1)
    header = signed(body)
    settings.SETTLEMENT_WEBHOOK_SECRET = ""
    response = push(api, body, header)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "webhook_off"
    assert_nothing_recorded(event)


def test_the_signature_is_over_the_raw_bytes(api: APIClient, game: Any) -> None:
    # The same JSON re-serialised (other spacing) is another body: its signature does not match.
    event, _ = game
    body = result_body(event, 2, 1)
    header = signed(body)
    respaced = json.dumps(json.loads(body), indent=2).encode()
    assert push(api, respaced, header).status_code == 401
    assert push(api, body, header).status_code == 202
