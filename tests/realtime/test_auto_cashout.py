"""Auto-cashout: a target reached when odds move cashes the slip out, and the player is told."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from betting.models import BetSlip, Selection
from config.celery import app as celery_app
from ledger.reconcile import reconcile
from realtime.cashout.auto import auto_cashout_set, auto_cashouts_evaluate
from realtime.cashout.models import AutoCashout, CashoutOffer
from realtime.cashout.services import cashout_offer_accept, cashout_offer_create
from realtime.models import OutboxEvent
from tests.realtime.slips import home_of, home_wins, match, place, reprice, wallet_balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Tasks run where they are queued, so the after-commit hook's evaluation runs in the test."""
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False


@pytest.fixture
def slip(user: Any, fund: Any) -> BetSlip:
    fund(user, 100_000, "NGN")
    return place(user, [home_of(match())], stake=10_000)  # at 1.90; offer now 9,500


def put_target(client: APIClient, slip_id: int, target: Any) -> Any:
    return client.put(f"/api/bets/{slip_id}/auto-cashout", {"target": target}, format="json")


def test_odds_moving_past_the_target_cash_the_slip_out(
    auth_api: APIClient, user: Any, slip: BetSlip, eager_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    response = put_target(auth_api, slip.pk, 11_000)
    assert response.json() == {
        "slip": slip.pk,
        "status": "armed",
        "target": {"amount": 11_000, "currency": "NGN", "display": "NGN 110.00"},
    }
    selection = home_of(slip.legs.get().event)
    before = wallet_balance(user)

    with django_capture_on_commit_callbacks(execute=True):
        reprice(selection, "1.7000")  # offer 10,617: short of the target
    slip.refresh_from_db()
    assert slip.status == "pending"

    with django_capture_on_commit_callbacks(execute=True):
        reprice(selection, "1.6000")  # offer 11,281: reached
    slip.refresh_from_db()
    assert (slip.status, slip.payout) == ("cashed_out", 11_281)
    assert wallet_balance(user) == before + 11_281
    auto = AutoCashout.objects.get(slip=slip)
    assert auto.status == "executed" and auto.offer is not None
    assert (auto.offer.source, auto.offer.status, auto.offer.amount) == ("auto", "accepted", 11_281)
    success = OutboxEvent.objects.get(user_id=user.pk, type="cashout.success").data
    assert (success["origin"], success["amount"]["amount"]) == ("auto", 11_281)
    assert reconcile().clean


def test_a_target_is_checked_cleared_and_scaled_by_a_partial_cashout(
    auth_api: APIClient, user: Any, slip: BetSlip
) -> None:
    response = put_target(auth_api, slip.pk, 19_000)
    assert (response.status_code, response.json()["error"]["code"]) == (400, "target_unreachable")
    response = put_target(auth_api, slip.pk, 9_000)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "target_reached")
    assert put_target(auth_api, slip.pk, "12000").status_code == 400  # whole minor units only
    assert not AutoCashout.objects.exists()

    assert put_target(auth_api, slip.pk, 12_001).json()["status"] == "armed"
    offer = cashout_offer_create(user_id=user.pk, slip_id=slip.pk, fraction=Decimal("0.25")).offer
    cashout_offer_accept(user_id=user.pk, offer_id=offer.pk)
    assert AutoCashout.objects.get(slip=slip).target == 9_001  # 12,001 * 7,500 / 10,000, rounded up

    assert put_target(auth_api, slip.pk, None).json() == {"slip": slip.pk, "status": "cleared", "target": None}
    assert AutoCashout.objects.get(slip=slip).status == "cleared"
    assert reconcile().clean


def test_the_sweep_cashes_out_what_it_finds_and_lapses_settled_slips(user: Any, fund: Any, slip: BetSlip) -> None:
    other = place(user, [home_of(match())], stake=10_000)
    auto_cashout_set(user_id=user.pk, slip_id=slip.pk, target=11_000)
    auto_cashout_set(user_id=user.pk, slip_id=other.pk, target=11_000)
    # Prices moved with no hook heard (a lost task): the sweep still finds the target reached.
    Selection.objects.filter(pk=home_of(slip.legs.get().event).pk).update(odds=Decimal("1.5000"))
    assert home_wins(other.legs.get().event_id).settled == 1

    assert auto_cashouts_evaluate() == 1
    assert dict(AutoCashout.objects.values_list("slip_id", "status")) == {slip.pk: "executed", other.pk: "lapsed"}
    assert CashoutOffer.objects.get(slip=slip).amount == 12_033
    assert auto_cashouts_evaluate() == 0  # once
    assert reconcile().clean


def test_only_markets_with_armed_targets_queue_an_evaluation(
    user: Any, slip: BetSlip, django_capture_on_commit_callbacks: Any, redis_db: Any
) -> None:
    """Without eager tasks the hook sends to the broker: a move elsewhere sends nothing."""
    auto_cashout_set(user_id=user.pk, slip_id=slip.pk, target=11_000)
    elsewhere = home_of(match())
    with django_capture_on_commit_callbacks(execute=True):
        reprice(elsewhere, "1.5000")
    assert redis_db.llen("realtime") == 0  # the broker is the test Redis database
    with django_capture_on_commit_callbacks(execute=True):
        reprice(home_of(slip.legs.get().event), "1.8000")
    assert redis_db.llen("realtime") == 1
