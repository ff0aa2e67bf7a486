"""GET /api/settlement/health: the seed's score, 200 at 50 and above, 503 below."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from settlement.health import health_score
from settlement.models import SettlementRun
from tests.settlement.conftest import FINAL, Book, moneyline

pytestmark = pytest.mark.django_db

INTERVAL = 300


@pytest.mark.parametrize(
    ("paused", "failure_rate", "waiting", "age", "score"),
    [
        (False, 0.0, 0, None, 100),
        (True, 0.0, 0, None, 50),
        (False, 0.05, 0, None, 100),  # 5 % is not over 5 %
        (False, 0.06, 0, None, 90),
        (False, 0.11, 0, None, 80),
        (False, 0.31, 0, None, 70),
        (False, 0.51, 0, None, 60),
        (False, 0.0, 20, None, 100),
        (False, 0.0, 21, None, 95),
        (False, 0.0, 51, None, 90),
        (False, 0.0, 101, None, 80),
        (False, 0.0, 0, INTERVAL, 100),  # a backlog no older than the interval is the next run's work
        (False, 0.0, 0, INTERVAL + 1, 80),
        (True, 1.0, 500, 3600, 0),  # -50 -40 -20 -20: never below 0
    ],
)  # fmt: skip
def test_the_score(paused: bool, failure_rate: float, waiting: int, age: float | None, score: int) -> None:
    assert (
        health_score(paused=paused, failure_rate=failure_rate, waiting=waiting, backlog_age_s=age, interval_s=INTERVAL)[
            0
        ]
        == score
    )


@pytest.fixture
def no_workers(settings: Any) -> None:
    settings.HEALTH_WORKER_PING_TIMEOUT_S = 0.1


def test_the_endpoint_reports_every_part(api: APIClient, book: Book, no_workers: None) -> None:
    call_command("settlement_init", stdout=StringIO())
    book.clock.move_to(FINAL, tick=False)
    response = api.get("/api/settlement/health")
    body = response.json()
    # No worker answers in the test run: the queue counts as paused, 100 - 50 = 50, still 200.
    assert response.status_code == 200, body
    assert (body["score"], body["penalties"], body["queue"]["paused"]) == (50, {"paused": 50}, True)
    assert body["recurring_job"]["enabled"] is True and body["recurring_job"]["every_s"] == 300
    assert body["workers"]["up"] == 0
    assert set(body) >= {"queue", "workers", "recurring_job", "runs", "backlog", "score", "status"}


def test_a_backlog_older_than_the_interval_and_failures_make_it_unhealthy(
    api: APIClient, book: Book, no_workers: None
) -> None:
    call_command("settlement_init", stdout=StringIO())
    event = book.event(moneyline())
    book.bet(book.player(), book.selection(event, "moneyline", "home"))
    book.result(event, home=1, away=0, at=FINAL)
    for status in ("failed", "succeeded", "failed"):
        SettlementRun.objects.create(trigger="beat", status=status, started_at=FINAL, finished_at=FINAL)
    book.clock.move_to(FINAL + timedelta(minutes=4), tick=False)
    body = api.get("/api/settlement/health").json()
    assert body["backlog"] == {"pending_slips_on_finished_events": 1, "oldest_age_s": 240.0, "interval_s": 300}
    assert body["runs"]["failure_rate"] == round(2 / 3, 4)
    book.clock.move_to(FINAL + timedelta(minutes=6), tick=False)
    response = api.get("/api/settlement/health")
    assert response.status_code == 503
    assert response.json()["penalties"] == {"paused": 50, "failure_rate": 40, "backlog": 20}
    assert response.json()["score"] == 0
