"""Cashouts racing each other and a settlement, with real threads against the real database.

The settlement engine is not on main yet: `tests.realtime.slips.settle_won` settles a slip the way
it will (a compare-and-set from PENDING and its ledger entry in one transaction).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from betting.models import BetSlip
from core.errors import ApplicationError
from ledger.models import Transaction
from ledger.reconcile import reconcile
from realtime.cashout.models import CashoutOffer
from realtime.cashout.payment import CashedOut
from realtime.cashout.services import cashout_offer_accept, cashout_offer_create, offer_accept_locked
from tests.realtime.slips import home_of, match, place, settle_won, wallet_balance

pytestmark = pytest.mark.django_db(transaction=True)


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Start every call at once, each in its own thread and connection; a refusal is a result."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        except ApplicationError as exc:
            return exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, call) for call in calls]
        return [future.result(timeout=30) for future in futures]


@pytest.fixture
def player(user: Any, fund: Any) -> Any:
    fund(user, 100_000, "NGN")
    return user


def test_double_accept_pays_exactly_once(player: Any) -> None:
    slip = place(player, [home_of(match())], stake=10_000)
    offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk).offer
    before = wallet_balance(player)

    def accept() -> Any:
        client = APIClient()
        client.force_authenticate(player)
        response = client.post(
            f"/api/cashout-offers/{offer.pk}/accept", {}, format="json", headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        return response.status_code, response.json()

    results = race(accept, accept, accept, accept)
    assert sorted(status for status, _ in results) == [200, 409, 409, 409]
    assert {body["error"]["code"] for status, body in results if status == 409} == {"offer_not_open"}
    assert Transaction.objects.filter(kind="cashout").count() == 1
    assert wallet_balance(player) == before + offer.amount
    assert BetSlip.objects.get(pk=slip.pk).status == "cashed_out"
    assert reconcile().clean


def test_cashout_racing_settlement_ends_with_exactly_one(player: Any) -> None:
    rounds = 4
    slips = [place(player, [home_of(match())], stake=10_000) for _ in range(rounds)]
    offers = [cashout_offer_create(user_id=player.pk, slip_id=s.pk).offer for s in slips]
    start = wallet_balance(player)

    expected = start
    for slip, offer in zip(slips, offers, strict=True):
        cashed, settled = race(
            lambda o=offer: cashout_offer_accept(user_id=player.pk, offer_id=o.pk),
            lambda s=slip: settle_won(s.pk),
        )
        slip.refresh_from_db()
        if isinstance(cashed, CashedOut):
            assert settled is False
            assert (slip.status, slip.payout) == ("cashed_out", offer.amount)
            expected, paid_by = expected + offer.amount, f"cashout:{offer.pk}"
        else:
            assert settled is True
            assert cashed.code == "slip_not_pending"
            assert (slip.status, slip.payout) == ("won", 19_000)
            assert CashoutOffer.objects.get(pk=offer.pk).status == "refused"
            expected, paid_by = expected + 19_000, f"bet:settle:{slip.pk}:v1"
        keys = set(Transaction.objects.filter(reference=f"slip:{slip.pk}").values_list("idempotency_key", flat=True))
        assert keys == {f"bet:place:{slip.pk}", paid_by}
    assert wallet_balance(player) == expected
    assert reconcile().clean


def test_whichever_commits_first_wins_and_the_other_waits_on_the_slip(player: Any) -> None:
    """Both orders made to happen: the loser is held on the slip's row until the winner commits,
    then finds it no longer PENDING and backs off."""
    first, second = (place(player, [home_of(match())], stake=10_000) for _ in range(2))
    offers = [cashout_offer_create(user_id=player.pk, slip_id=s.pk).offer for s in (first, second)]

    # Settlement first: its compare-and-set is done, not yet committed, when the player accepts.
    with ThreadPoolExecutor(1) as pool:
        with transaction.atomic():
            assert settle_won(first.pk)
            accepting = pool.submit(_closing(cashout_offer_accept), user_id=player.pk, offer_id=offers[0].pk)
            time.sleep(0.3)
            assert not accepting.done()  # waiting on the slip's row
        refused = accepting.exception(timeout=10)
    assert isinstance(refused, ApplicationError) and refused.code == "slip_not_pending"

    # Cashout first: the accepted offer is paid, not yet committed, when settlement runs.
    with ThreadPoolExecutor(1) as pool:
        with transaction.atomic():
            slip = BetSlip.objects.select_for_update(of=("self",)).get(pk=second.pk)
            offer = CashoutOffer.objects.select_for_update().get(pk=offers[1].pk)
            assert isinstance(offer_accept_locked(slip, offer, now=timezone.now()), CashedOut)
            settling = pool.submit(_closing(settle_won), second.pk)
            time.sleep(0.3)
            assert not settling.done()
        assert settling.result(timeout=10) is False

    assert dict(BetSlip.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "status")) == {
        first.pk: "won",
        second.pk: "cashed_out",
    }
    assert reconcile().clean


def _closing(call: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        finally:
            connections.close_all()

    return run
