"""Live bets: held with their stake in escrow for LIVE_BET_DELAY_S, then re-validated and
accepted or rejected (stake back)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from betting.models import BetLeg, BetSlip, DailyStake, SelectionLiability
from betting.services import event_result_record, live_bets_due, market_update, slip_live_confirm
from betting.tasks import live_bets_sweep
from ledger.models import Account, Transaction
from ledger.reconcile import reconcile
from ledger.selectors import account_balance
from ledger.services import system_account, wallet_for
from realtime.models import OutboxEvent
from tests.betting.conftest import selection_of

pytestmark = pytest.mark.django_db

FUNDS = 1_000_000


@pytest.fixture
def player(user: Any, fund: Callable[..., Any]) -> Any:
    fund(user, FUNDS, "NGN")
    return user


@pytest.fixture
def live_event(make_event: Callable[..., Any], settings: Any) -> Any:
    settings.LIVE_BET_DELAY_S = 5
    event = make_event(start=datetime.now(UTC) + timedelta(minutes=1))
    event_result_record(event_id=event.pk, status="live")
    return event


def place_live(
    api: APIClient, selection: Any, *, stake: int = 10_000, odds: str = "1.95", policy: str = "better"
) -> Any:
    return api.post(
        "/api/bets",
        {
            "type": "single",
            "stake": stake,
            "currency": "NGN",
            "legs": [{"selection": selection.pk, "odds": odds}],
            "accept_odds": policy,
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )


def after_delay() -> Any:
    return time_machine.travel(datetime.now(UTC) + timedelta(seconds=6), tick=False)


def wallet(user: Any) -> int:
    return wallet_for(user_id=user.pk, currency="NGN").balance


def escrow() -> int:
    return account_balance(system_account(kind=Account.Kind.BETS_ESCROW, currency="NGN"))


def test_a_live_bet_waits_with_its_stake_held(
    auth_api: APIClient, player: Any, live_event: Any, django_capture_on_commit_callbacks: Any
) -> None:
    spread = selection_of(live_event, "spread", "home")

    with django_capture_on_commit_callbacks() as callbacks:
        response = place_live(auth_api, spread)

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "awaiting" and body["live"] and body["accepted_at"] is None
    slip = BetSlip.objects.get(pk=body["id"])
    assert slip.accept_after is not None
    assert timedelta(seconds=4.9) < slip.accept_after - slip.placed_at < timedelta(seconds=5.1)
    assert wallet(player) == FUNDS - 10_000 and escrow() == 10_000
    assert SelectionLiability.objects.get(selection=spread).amount == 9_500
    assert len(callbacks) >= 1  # the delayed decision is queued after commit

    # Before its delay the slip is not decided, whoever asks.
    assert slip_live_confirm(slip_id=slip.pk).status == BetSlip.Status.AWAITING
    assert live_bets_due() == []


def test_accepted_after_the_delay(auth_api: APIClient, player: Any, live_event: Any) -> None:
    slip_id = place_live(auth_api, selection_of(live_event, "spread", "home")).json()["id"]

    with after_delay():
        slip = slip_live_confirm(slip_id=slip_id)

    assert slip.status == BetSlip.Status.PENDING and slip.accepted_at is not None
    assert wallet(player) == FUNDS - 10_000 and escrow() == 10_000
    assert OutboxEvent.objects.filter(type="bet.updated", user=player, data__status="pending").exists()
    assert auth_api.get(f"/api/bets/{slip_id}").json()["status"] == "pending"


def test_rejected_when_the_market_is_suspended_in_the_delay(auth_api: APIClient, player: Any, live_event: Any) -> None:
    spread = selection_of(live_event, "spread", "home")
    slip_id = place_live(auth_api, spread).json()["id"]
    market_update(market_id=spread.market_id, action="suspend")  # a goal, say

    with after_delay():
        slip = slip_live_confirm(slip_id=slip_id)

    assert slip.status == BetSlip.Status.REJECTED and slip.reject_reason == "market_suspended"
    assert wallet(player) == FUNDS and escrow() == 0
    assert Transaction.objects.filter(idempotency_key=f"bet:reject:{slip_id}").exists()
    assert SelectionLiability.objects.get(selection=spread).amount == 0
    assert DailyStake.objects.get(user=player).amount == 0
    assert OutboxEvent.objects.filter(type="bet.updated", data__status="rejected").exists()
    # Deciding again changes nothing.
    with after_delay():
        assert slip_live_confirm(slip_id=slip_id).status == BetSlip.Status.REJECTED
    assert wallet(player) == FUNDS
    assert reconcile().clean


def test_rejected_when_the_odds_drop_below_what_was_asked(auth_api: APIClient, player: Any, live_event: Any) -> None:
    spread = selection_of(live_event, "spread", "home")
    slip_id = place_live(auth_api, spread, odds="1.95").json()["id"]
    market_update(market_id=spread.market_id, odds={spread.pk: "1.70"})

    with after_delay():
        slip = slip_live_confirm(slip_id=slip_id)

    assert slip.status == BetSlip.Status.REJECTED and slip.reject_reason == "odds_changed"
    assert wallet(player) == FUNDS
    assert reconcile().clean


def test_better_odds_in_the_delay_reprice_the_slip(auth_api: APIClient, player: Any, live_event: Any) -> None:
    spread = selection_of(live_event, "spread", "home")
    slip_id = place_live(auth_api, spread, odds="1.95").json()["id"]
    market_update(market_id=spread.market_id, odds={spread.pk: "2.10"})

    with after_delay():
        slip = slip_live_confirm(slip_id=slip_id)

    assert slip.status == BetSlip.Status.PENDING
    assert slip.potential_payout == 21_000
    assert BetLeg.objects.get(slip_id=slip_id).odds_placed == Decimal("2.1000")
    assert SelectionLiability.objects.get(selection=spread).amount == 11_000


def test_rejected_when_the_game_ends_in_the_delay(auth_api: APIClient, player: Any, live_event: Any) -> None:
    slip_id = place_live(auth_api, selection_of(live_event, "spread", "home")).json()["id"]
    event_result_record(event_id=live_event.pk, status="finished", home_score=1, away_score=0)

    with after_delay():
        slip = slip_live_confirm(slip_id=slip_id)

    assert slip.status == BetSlip.Status.REJECTED and slip.reject_reason == "market_closed"
    assert wallet(player) == FUNDS


def test_a_parlay_with_one_live_leg_waits_too(
    auth_api: APIClient, player: Any, live_event: Any, make_event: Callable[..., Any]
) -> None:
    live_leg = selection_of(live_event, "spread", "away")
    later = selection_of(make_event(), "moneyline", "home")

    response = auth_api.post(
        "/api/bets",
        {
            "type": "parlay",
            "stake": 1_000,
            "currency": "NGN",
            "legs": [{"selection": live_leg.pk, "odds": "1.95"}, {"selection": later.pk, "odds": "1.90"}],
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="parlay-live",
    )

    assert response.status_code == 202
    assert [leg["live"] for leg in response.json()["legs"]] == [True, False]


def test_the_sweep_decides_what_its_tasks_missed(auth_api: APIClient, player: Any, live_event: Any) -> None:
    spread = selection_of(live_event, "spread", "home")
    ids = [place_live(auth_api, spread).json()["id"] for _ in range(3)]

    with after_delay():
        assert sorted(live_bets_due()) == sorted(ids)
        assert live_bets_sweep() == 3
        assert live_bets_due() == []

    assert set(BetSlip.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"pending"}
