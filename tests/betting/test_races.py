"""Placements racing each other, with real threads against the real database."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections
from rest_framework.test import APIClient

from betting.models import BetSlip, SelectionLiability
from ledger.reconcile import reconcile
from ledger.services import wallet_for
from tests.betting.conftest import selection_of

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Threads share PostgreSQL with everything else on the machine: enough to race, not to exhaust it.
THREADS = 25


def race(count: int, attempt: Callable[[int], Any]) -> list[Any]:
    start = threading.Event()

    def run(n: int) -> Any:
        start.wait()
        try:
            return attempt(n)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(run, n) for n in range(count)]
        start.set()
        return [f.result() for f in futures]


def client_for(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def single(selection: Any, stake: int) -> dict[str, Any]:
    return {
        "type": "single",
        "stake": stake,
        "currency": "NGN",
        "legs": [{"selection": selection.pk, "odds": str(selection.odds)}],
    }


def test_fifty_placements_on_a_wallet_that_funds_ten(
    make_user: Callable[..., Any], fund: Any, make_event: Callable[..., Any]
) -> None:
    player = make_user()
    fund(player, 10 * 10_000, "NGN")
    home = selection_of(make_event(), "moneyline", "home")

    def attempt(n: int) -> tuple[int, str]:
        response = client_for(player).post(
            "/api/bets", single(home, 10_000), format="json", HTTP_IDEMPOTENCY_KEY=f"race-{n}"
        )
        body = response.json()
        return response.status_code, body["error"]["code"] if response.status_code >= 400 else body["status"]

    outcomes = Counter(race(50, attempt))

    assert outcomes == {(201, "pending"): 10, (422, "insufficient_funds"): 40}
    assert BetSlip.objects.filter(user=player).count() == 10
    assert wallet_for(user_id=player.pk, currency="NGN").balance == 0
    assert SelectionLiability.objects.get(selection=home).amount == 10 * 9_000
    report = reconcile()
    assert report.clean, report.breaks


def test_one_key_sent_at_once_places_one_slip(
    make_user: Callable[..., Any], fund: Any, make_event: Callable[..., Any]
) -> None:
    player = make_user()
    fund(player, 1_000_000, "NGN")
    home = selection_of(make_event(), "moneyline", "home")
    key = uuid.uuid4().hex

    def attempt(_n: int) -> tuple[int, int]:
        response = client_for(player).post("/api/bets", single(home, 10_000), format="json", HTTP_IDEMPOTENCY_KEY=key)
        return response.status_code, response.json().get("id", 0)

    results = race(10, attempt)

    assert {status for status, _ in results} == {201}
    assert len({slip for _, slip in results}) == 1
    assert BetSlip.objects.filter(user=player).count() == 1
    assert wallet_for(user_id=player.pk, currency="NGN").balance == 1_000_000 - 10_000
    assert reconcile().clean


def test_the_liability_cap_holds_under_concurrent_bets(
    make_user: Callable[..., Any], fund: Any, make_event: Callable[..., Any], settings: Any
) -> None:
    settings.BET_LIABILITY_CAP = {"NGN": 7 * 9_000}
    home = selection_of(make_event(), "moneyline", "home")  # 1.90: a stake of 10,000 risks 9,000
    players = [make_user() for _ in range(20)]
    for player in players:
        fund(player, 10_000, "NGN")

    def attempt(n: int) -> int:
        response = client_for(players[n]).post(
            "/api/bets", single(home, 10_000), format="json", HTTP_IDEMPOTENCY_KEY=f"cap-{n}"
        )
        return response.status_code

    outcomes = Counter(race(20, attempt))

    assert outcomes == {201: 7, 422: 13}
    assert SelectionLiability.objects.get(selection=home).amount == 7 * 9_000
    assert reconcile().clean
