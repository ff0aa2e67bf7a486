"""Cashout and slip events over /ws/bets/: the real consumer, relay and channel layer."""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from betting.models import BetSlip
from ledger.reconcile import reconcile
from realtime.cashout.models import AutoCashout
from tests.realtime.helpers import connected, subscribed
from tests.realtime.slips import home_of, home_wins, match, place, reprice, wallet_balance

pytestmark = pytest.mark.django_db(transaction=True)


def test_cashout_over_the_socket_reaches_its_owner_only(make_user: Any, fund: Any) -> None:
    alice, bob = make_user(), make_user()
    fund(alice, 50_000, "NGN")
    fund(bob, 50_000, "NGN")
    alice_home = home_of(match())
    slip = place(alice, [alice_home], stake=10_000)
    bob_slip = place(bob, [home_of(match())], stake=10_000)
    before = wallet_balance(alice)

    async def scenario() -> None:
        async with connected(alice) as a, connected(bob) as b:
            await a.send({"type": "cashout.request", "slip": slip.pk, "ref": 1})
            offered = await a.receive()
            assert {"id", "seq", "ts"} <= set(offered)
            assert (offered["type"], offered["ref"]) == ("cashout.offered", 1)
            data = offered["data"]
            assert (data["slip"], data["amount"]["amount"], data["fraction"]) == (slip.pk, 9_500, "1")
            assert data["expires_at"].endswith("Z")
            offer = data["offer"]

            # Bob may not touch Alice's slip or offer: to him they do not exist.
            await b.send({"type": "cashout.request", "slip": slip.pk})
            assert (await b.receive())["data"]["reason"] == "slip_not_found"
            await b.send({"type": "cashout.accept", "offer": offer, "ref": "x"})
            refused = await b.receive()
            assert (refused["type"], refused["ref"], refused["data"]["reason"]) == (
                "cashout.error",
                "x",
                "offer_not_found",
            )

            # An amount the server did not offer is refused, whatever it is.
            await a.send({"type": "cashout.accept", "offer": offer, "amount": 18_999, "ref": 2})
            refused = await a.receive()
            assert (refused["type"], refused["data"]["reason"], refused["ref"]) == (
                "cashout.error",
                "amount_not_accepted",
                2,
            )
            assert "id" not in refused  # nothing happened: not an event

            # The price falls before Alice accepts: refused, with a fresh offer she then takes.
            await sync_to_async(reprice)(alice_home, "2.5000")
            assert (await a.receive())["type"] == "odds.updated"
            await a.send({"type": "cashout.accept", "offer": offer, "ref": 3})
            refused = await a.receive()
            assert (refused["type"], refused["ref"], refused["data"]["reason"]) == ("cashout.error", 3, "price_changed")
            assert "seq" in refused  # the offer was closed: an event, for every connection of hers
            fresh = refused["data"]["fresh_offer"]
            assert fresh["amount"]["amount"] == 7_220

            await a.send({"type": "cashout.accept", "offer": fresh["offer"], "ref": 4})
            success = await a.receive()
            assert (success["type"], success["ref"], success["data"]["amount"]["amount"]) == (
                "cashout.success",
                4,
                7_220,
            )
            # The relay brings the rest of the change, and not the answered events a second time.
            rest = [await a.receive(), await a.receive()]
            assert sorted(e["type"] for e in rest) == ["balance.updated", "bet.updated"]
            assert await a.nothing()

            # Bob's own cashout is his alone.
            await b.send({"type": "cashout.request", "slip": bob_slip.pk, "fraction": 0.5})
            assert (await b.receive())["data"]["amount"]["amount"] == 4_750
            assert await b.nothing()
            assert await a.nothing()

    async_to_sync(scenario)()
    assert BetSlip.objects.get(pk=slip.pk).status == "cashed_out"
    assert wallet_balance(alice) == before + 7_220
    assert reconcile().clean


def test_open_slips_hear_their_odds_and_settlement_and_set_auto_targets(
    make_user: Any, fund: Any, redis_db: Any
) -> None:
    alice, bob = make_user(), make_user()
    fund(alice, 50_000, "NGN")
    first, second = match(), match()
    first_home, second_home = home_of(first), home_of(second)
    slip = place(alice, [first_home], stake=10_000)

    async def scenario() -> None:
        async with connected(alice) as a, connected(bob) as b:
            # Joined at connect: the game of Alice's open slip.
            await sync_to_async(reprice)(first_home, "1.8000")
            odds = await a.receive()
            assert (odds["type"], odds["data"]["event"]) == ("odds.updated", first.pk)
            assert odds["data"]["markets"][0]["selections"][0]["odds"] == "1.8000"

            # A slip placed while connected: its game's odds from then on.
            second_slip = await sync_to_async(place)(alice, [second_home], stake=5_000)
            placed = await a.receive_until("bet.placed")
            assert placed[-1]["data"]["legs"][0]["event"] == second.pk
            assert (await a.receive())["type"] == "balance.updated"
            await subscribed(redis_db, f"topic.event.{second.pk}")
            await sync_to_async(reprice)(second_home, "2.0000")
            assert (await a.receive())["data"]["event"] == second.pk

            # Auto-cashout targets: set, then cleared.
            await a.send({"type": "cashout.auto", "slip": slip.pk, "target": 11_000, "ref": 1})
            armed = await a.receive()
            assert (armed["type"], armed["ref"], armed["data"]["status"]) == ("cashout.auto", 1, "armed")
            assert armed["data"]["target"]["amount"] == 11_000
            await a.send({"type": "cashout.auto", "slip": slip.pk, "target": None})
            assert (await a.receive())["data"] == {"slip": slip.pk, "target": None, "status": "cleared"}

            # The second game is won and settled while connected: its markets close, and the
            # settlement reaches the client with what it paid.
            await sync_to_async(home_wins)(second.pk)
            frames = await a.receive_until("bet.settled")
            assert [e["type"] for e in frames] == ["odds.updated", "bet.settled"]
            assert frames[0]["data"]["markets"][0]["status"] == "closed"
            settled = frames[1]["data"]
            assert (settled["slip"], settled["status"], settled["version"]) == (second_slip.pk, "won", 1)
            assert settled["payout"] == {"amount": 9_500, "currency": "NGN", "display": "NGN 95.00"}

            assert await b.nothing()  # no slips: no odds, and nothing of Alice's
            assert await a.nothing()

    async_to_sync(scenario)()
    assert AutoCashout.objects.get(slip=slip).status == "cleared"
    assert reconcile().clean
