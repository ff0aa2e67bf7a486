"""Cashouts racing each other and the settlement engine, with real threads against the real database.

A settlement here is what a recorded result sets off: the operator records the game's result, then
`settlement.services.events.event_settle` grades the event and settles its slips, each chunk
moving them by compare-and-set (status, settlement version and stake). Accepting a cashout moves
the slip by its own compare-and-set under the slip's row lock. Whichever commits first wins; the
other finds the slip moved and backs off, and the money moves once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from betting.models import BetSlip
from core.errors import ApplicationError
from ledger.models import Account, Transaction
from ledger.reconcile import reconcile
from realtime.cashout.models import CashoutOffer
from realtime.cashout.payment import CashedOut
from realtime.cashout.services import CashoutError, cashout_offer_accept, cashout_offer_create, offer_accept_locked
from settlement.services.events import EventReport
from tests.realtime.slips import home_of, home_wins, match, place, wallet_balance

pytestmark = pytest.mark.django_db(transaction=True)

STAKE = 10_000  # on a single at 1.90: pays 19,000 when the home side wins
WON = 19_000
ROUNDS = 6
# What an accept that lost to the settlement answers: the slip already settled (409), or, when it
# got the slip first but after the result, every leg decided (graded) or no price (not yet graded).
REFUSED = {"slip_not_pending": 409, "nothing_pending": 422, "price_unavailable": 422}


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
        return [future.result(timeout=60) for future in futures]


def accept_by_service(user: Any, offer_id: int) -> Callable[[], tuple[str, int]]:
    """The player accepts over the service the WebSocket uses: ("paid", 200) or (code, status)."""

    def accept() -> tuple[str, int]:
        try:
            cashout_offer_accept(user_id=user.pk, offer_id=offer_id)
        except CashoutError as refused:
            return refused.code, refused.status_code
        return "paid", 200

    return accept


def accept_by_rest(user: Any, offer_id: int) -> Callable[[], tuple[str, int]]:
    """The player accepts over REST: ("paid", 200) or the error body's code and the status."""

    def accept() -> tuple[str, int]:
        client = APIClient()
        client.force_authenticate(user)
        response = client.post(
            f"/api/cashout-offers/{offer_id}/accept", {}, format="json", headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        if response.status_code == 200:
            return "paid", 200
        return response.json()["error"]["code"], response.status_code

    return accept


def ledger_keys(slip: BetSlip) -> set[str]:
    return set(Transaction.objects.filter(reference=f"slip:{slip.pk}").values_list("idempotency_key", flat=True))


def lock_waiters() -> int:
    """Other connections of this database waiting on a lock (a row held by another transaction)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh look, even inside a transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return int(cursor.fetchone()[0])


def until_waiting(count: int, *running: Future[Any]) -> None:
    """Until `count` connections wait on a lock; fails if one of `running` ends first."""
    deadline = time.monotonic() + 30
    while lock_waiters() < count:
        for future in running:
            if future.done():
                raise AssertionError(f"ended instead of waiting on a lock: {future.result()!r}")
        assert time.monotonic() < deadline, f"{count} connection(s) never waited on a lock"
        time.sleep(0.02)


def in_thread(pool: ThreadPoolExecutor, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
    def run() -> Any:
        try:
            return call(*args, **kwargs)
        finally:
            connections.close_all()

    return pool.submit(run)


@contextmanager
def held(account: Account) -> Iterator[None]:
    """Hold the account's row, as a transfer in flight would, until the block ends."""
    with transaction.atomic():
        Account.objects.select_for_update().get(pk=account.pk)
        yield


@pytest.fixture
def player(user: Any, fund: Any) -> Any:
    fund(user, 200_000, "NGN")
    return user


@pytest.fixture
def neighbour(make_user: Any, fund: Any) -> Any:
    """Another player backing the same side of the same games."""
    other = make_user()
    fund(other, 200_000, "NGN")
    return other


def test_double_accept_pays_exactly_once(player: Any) -> None:
    slip = place(player, [home_of(match())], stake=STAKE)
    offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk).offer
    before = wallet_balance(player)

    results = race(*(accept_by_rest(player, offer.pk) for _ in range(4)))
    assert sorted(results) == [("offer_not_open", 409)] * 3 + [("paid", 200)]
    assert Transaction.objects.filter(kind="cashout").count() == 1
    assert wallet_balance(player) == before + offer.amount
    assert BetSlip.objects.get(pk=slip.pk).status == "cashed_out"
    assert reconcile().clean


def test_cashout_racing_settlement_ends_with_exactly_one(player: Any, neighbour: Any) -> None:
    """Each round: the player accepts an offer (over the service or REST, by turns) while the game's
    result is recorded and the engine settles it. Either the slip is cashed out and the
    settlement leaves it alone, or it is settled and the accept refused; the neighbour's slip on
    the same game is settled whichever way the race went."""
    mine, theirs = wallet_balance(player), wallet_balance(neighbour)
    for n in range(ROUNDS):
        game = match()
        slip = place(player, [home_of(game)], stake=STAKE)
        other = place(neighbour, [home_of(game)], stake=STAKE)
        offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk).offer
        mine -= STAKE
        theirs += WON - STAKE
        accept = (accept_by_rest if n % 2 else accept_by_service)(player, offer.pk)

        (outcome, status), report = race(accept, lambda g=game.pk: home_wins(g))

        assert isinstance(report, EventReport), report
        slip.refresh_from_db()
        offer.refresh_from_db()
        if outcome == "paid":
            assert (slip.status, slip.payout, slip.settlement_version) == ("cashed_out", offer.amount, 0)
            assert ledger_keys(slip) == {f"bet:place:{slip.pk}", f"cashout:{offer.pk}"}
            assert offer.status == "accepted"
            assert (report.settled, report.failed) == (1, 0)  # the neighbour's slip only
            mine += offer.amount
        else:
            assert REFUSED.get(outcome) == status, (outcome, status)
            assert (slip.status, slip.payout, slip.settlement_version) == ("won", WON, 1)
            assert ledger_keys(slip) == {f"bet:place:{slip.pk}", f"bet:settle:{slip.pk}:v1"}
            assert (offer.status, offer.reason) == ("refused", outcome)
            assert (report.settled, report.failed) == (2, 0)
            mine += WON
        assert BetSlip.objects.filter(pk=other.pk).values_list("status", "payout").get() == ("won", WON)
        assert wallet_balance(player) == mine
        assert wallet_balance(neighbour) == theirs
    assert reconcile().clean


def test_partial_cashout_racing_settlement_settles_what_is_left(player: Any) -> None:
    """Half the slip cashed out (4,750 for 5,000 of stake) racing the settlement: either both
    happen, the settlement paying the 5,000 left (9,500), or the settlement wins and pays it all."""
    expected = wallet_balance(player)
    for n in range(ROUNDS):
        game = match()
        slip = place(player, [home_of(game)], stake=STAKE)
        offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk, fraction=Decimal("0.5")).offer
        assert (offer.amount, offer.stake_cashed) == (4_750, 5_000)
        expected -= STAKE
        accept = (accept_by_rest if n % 2 else accept_by_service)(player, offer.pk)

        (outcome, status), report = race(accept, lambda g=game.pk: home_wins(g))

        assert isinstance(report, EventReport), report
        slip.refresh_from_db()
        settled = f"bet:settle:{slip.pk}:v1"
        if outcome == "paid":
            assert (slip.status, slip.stake, slip.payout) == ("won", 5_000, 9_500)
            assert ledger_keys(slip) == {f"bet:place:{slip.pk}", f"cashout:{offer.pk}", settled}
            expected += offer.amount + 9_500
        else:
            assert REFUSED.get(outcome) == status, (outcome, status)
            assert (slip.status, slip.stake, slip.payout) == ("won", STAKE, WON)
            assert ledger_keys(slip) == {f"bet:place:{slip.pk}", settled}
            expected += WON
        assert (report.settled, report.failed) == (1, 0)
        assert wallet_balance(player) == expected
    assert reconcile().clean


def test_settlement_first_the_accept_waits_on_the_slip_then_refuses(player: Any, neighbour: Any) -> None:
    """The engine has moved the slip and waits to pay it (the player's wallet is held by a transfer
    in flight) when the player accepts: the accept waits on the slip's row until the settlement
    commits, then finds the slip won."""
    game = match()
    slip, other = place(player, [home_of(game)], stake=STAKE), place(neighbour, [home_of(game)], stake=STAKE)
    offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk).offer
    wallet = Account.objects.get(user=player, kind="wallet", currency="NGN")

    with ThreadPoolExecutor(2) as pool:
        with held(wallet):
            settling = in_thread(pool, home_wins, game.pk)
            until_waiting(1, settling)  # the chunk: slips moved, the wallet next
            accepting = in_thread(pool, cashout_offer_accept, user_id=player.pk, offer_id=offer.pk)
            until_waiting(2, settling, accepting)  # the accept, on the slip's row
        report = settling.result(timeout=30)
        refused = accepting.exception(timeout=30)

    assert isinstance(refused, CashoutError)
    assert (refused.code, refused.status_code) == ("slip_not_pending", 409)
    assert (report.settled, report.raced) == (2, 0)
    assert dict(BetSlip.objects.filter(pk__in=[slip.pk, other.pk]).values_list("pk", "status")) == {
        slip.pk: "won",
        other.pk: "won",
    }
    assert ledger_keys(slip) == {f"bet:place:{slip.pk}", f"bet:settle:{slip.pk}:v1"}
    assert CashoutOffer.objects.get(pk=offer.pk).status == "refused"
    assert reconcile().clean


@pytest.mark.parametrize("fraction", [Decimal(1), Decimal("0.5")], ids=["full", "partial"])
def test_cashout_first_the_settlement_waits_on_the_slip(player: Any, neighbour: Any, fraction: Decimal) -> None:
    """The accepted offer is paid, not yet committed, when the game is won and the engine reaches
    the slip: its compare-and-set waits on the slip's row, then finds it moved. A full cashout is
    left alone; what a partial cashout left on the slip (5,000 of stake) is settled on that stake,
    in the same pass. The neighbour's slip on the game is settled either way."""
    game = match()
    slip, other = place(player, [home_of(game)], stake=STAKE), place(neighbour, [home_of(game)], stake=STAKE)
    offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk, fraction=fraction).offer
    before = wallet_balance(player)

    with ThreadPoolExecutor(1) as pool:
        with transaction.atomic():
            locked = BetSlip.objects.select_for_update(of=("self",)).get(pk=slip.pk)
            open_offer = CashoutOffer.objects.select_for_update().get(pk=offer.pk)
            assert isinstance(offer_accept_locked(locked, open_offer, now=timezone.now()), CashedOut)
            settling = in_thread(pool, home_wins, game.pk)
            until_waiting(1, settling)  # the engine read the slip pending, and waits on its row
        report = settling.result(timeout=30)

    slip.refresh_from_db()
    assert BetSlip.objects.filter(pk=other.pk).values_list("status", "payout").get() == ("won", WON)
    assert report.failed == 0
    if fraction == 1:
        assert (report.settled, report.raced) == (1, 1)
        assert (slip.status, slip.payout, slip.settlement_version) == ("cashed_out", offer.amount, 0)
        assert ledger_keys(slip) == {f"bet:place:{slip.pk}", f"cashout:{offer.pk}"}
        assert wallet_balance(player) == before + offer.amount
    else:
        assert (report.settled, report.raced) == (2, 0)
        assert (slip.status, slip.stake, slip.payout, slip.settlement_version) == ("won", 5_000, 9_500, 1)
        assert ledger_keys(slip) == {f"bet:place:{slip.pk}", f"cashout:{offer.pk}", f"bet:settle:{slip.pk}:v1"}
        assert wallet_balance(player) == before + offer.amount + 9_500
    assert reconcile().clean
