"""Events from a committed change to the right client: the outbox, the relay, the consumer."""

from __future__ import annotations

import asyncio
import copy
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.db import connection, transaction

from ledger.reconcile import reconcile
from realtime.models import OutboxEvent
from realtime.outbox import event_emit, new_event_id
from realtime.relay import outbox_sweep, relay_drain
from realtime.subscriptions import topic_provider, topic_provider_remove, user_topics_join
from tests.realtime.helpers import connected, subscribed

pytestmark = pytest.mark.django_db(transaction=True)

ENVELOPE_KEYS = {"type", "id", "seq", "ts", "data"}


def settle(user: Any, slip: int) -> OutboxEvent:
    """Stands in for a settlement: a bet.settled event committed in its own transaction."""
    with transaction.atomic():
        return event_emit(type="bet.settled", user_id=user.pk, data={"slip": slip, "status": "won"})


def test_a_deposit_reaches_its_owner_as_balance_updated(user: Any, fund: Any) -> None:
    async def scenario() -> None:
        async with connected(user) as client:
            tx_id = await sync_to_async(fund)(user, 12_345, "NGN")
            event = await client.receive()
            assert set(event) == ENVELOPE_KEYS
            assert event["type"] == "balance.updated"
            assert event["id"].startswith("evt_")
            assert event["ts"].endswith("Z")
            assert event["data"] == {"currency": "NGN", "reason": "deposit", "transaction": tx_id, "amount": 12_345}
            row = await sync_to_async(OutboxEvent.objects.get)(event_id=event["id"])
            assert event["seq"] == row.seq
            assert await client.nothing()

    async_to_sync(scenario)()
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 0
    assert reconcile().clean


def test_two_users_never_hear_each_other(make_user: Any, fund: Any) -> None:
    alice, bob = make_user(), make_user()

    async def scenario() -> None:
        async with connected(alice) as alice_ws, connected(bob) as bob_ws:
            await sync_to_async(settle)(alice, 1)
            await sync_to_async(fund)(bob, 500, "NGN")
            await sync_to_async(settle)(alice, 2)
            alice_events = [await alice_ws.receive(), await alice_ws.receive()]
            bob_events = [await bob_ws.receive()]
            assert [(e["type"], e["data"]["slip"]) for e in alice_events] == [("bet.settled", 1), ("bet.settled", 2)]
            assert [e["type"] for e in bob_events] == ["balance.updated"]
            assert await alice_ws.nothing()
            assert await bob_ws.nothing()

    async_to_sync(scenario)()


def test_rolled_back_event_is_never_published(user: Any) -> None:
    class Boom(Exception):
        pass

    def rolled_back() -> None:
        with pytest.raises(Boom), transaction.atomic():
            event_emit(type="bet.settled", user_id=user.pk, data={"slip": 666})
            raise Boom

    async def scenario() -> None:
        async with connected(user) as client:
            await sync_to_async(rolled_back)()
            await sync_to_async(settle)(user, 7)
            event = await client.receive()
            assert event["data"]["slip"] == 7
            assert await client.nothing(1.0)

    async_to_sync(scenario)()
    assert list(OutboxEvent.objects.values_list("data__slip", flat=True)) == [7]


def test_sweeper_publishes_what_no_wakeup_did(user: Any) -> None:
    """A process that committed events and died before its relay ran: rows with no wake-up."""

    def crashed_commit() -> None:
        OutboxEvent.objects.bulk_create(
            OutboxEvent(event_id=new_event_id(), type="bet.settled", user_id=user.pk, data={"slip": n})
            for n in (1, 2, 3)
        )

    async def scenario() -> None:
        async with connected(user) as client:
            await sync_to_async(crashed_commit)()
            assert await client.nothing(0.5)  # nobody woke a relay
            assert await sync_to_async(outbox_sweep)() == 3
            slips = [(await client.receive())["data"]["slip"] for _ in range(3)]
            assert slips == [1, 2, 3]
            assert await sync_to_async(outbox_sweep)() == 0  # each row once
            assert await client.nothing()

    async_to_sync(scenario)()
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 0


def test_reconnect_with_resume_gets_what_it_missed_and_nothing_twice(user: Any) -> None:
    async def scenario() -> None:
        async with connected(user) as client:
            await sync_to_async(settle)(user, 1)
            await sync_to_async(settle)(user, 2)
            seen = [await client.receive(), await client.receive()]
        last_seq = seen[-1]["seq"]
        # Offline: two settlements commit and are published to nobody.
        await sync_to_async(settle)(user, 3)
        await sync_to_async(settle)(user, 4)
        await sync_to_async(relay_drain)()
        async with connected(user, ping=False) as client:
            await client.send({"type": "resume", "after": last_seq})
            frames = await client.receive_until("resumed")
            await sync_to_async(settle)(user, 5)
            live = await client.receive()
            assert await client.nothing()
        replayed = frames[:-1]
        assert [e["data"]["slip"] for e in replayed] == [3, 4]
        assert frames[-1] == {"type": "resumed", "after": last_seq, "count": 2, "complete": True}
        assert live["data"]["slip"] == 5
        ids = [e["id"] for e in seen + replayed + [live]]
        assert len(ids) == len(set(ids)) == 5

    async_to_sync(scenario)()


def test_resume_catches_an_event_that_committed_after_a_later_one(user: Any) -> None:
    """seq is taken at insert: a long transaction's event (lower seq) commits after a short
    one's (higher seq). A client that saw the higher seq and left must still get it."""
    inserted, release, done = threading.Event(), threading.Event(), threading.Event()

    def long_transaction() -> None:
        try:
            with transaction.atomic():
                event_emit(type="bet.settled", user_id=user.pk, data={"slip": "slow"})
                inserted.set()
                release.wait(10)
        finally:
            connection.close()  # this thread's own session
            done.set()

    async def scenario() -> None:
        slow = threading.Thread(target=long_transaction)
        slow.start()
        try:
            await sync_to_async(inserted.wait, thread_sensitive=False)(10)
            async with connected(user) as client:
                await sync_to_async(settle)(user, "fast")
                fast = await client.receive()
            assert fast["data"]["slip"] == "fast"
        finally:
            release.set()
            await sync_to_async(done.wait, thread_sensitive=False)(10)
            slow.join()
        await sync_to_async(relay_drain)()
        async with connected(user, ping=False) as client:
            await client.send({"type": "resume", "after": fast["seq"]})
            frames = await client.receive_until("resumed")
        assert [e["data"]["slip"] for e in frames[:-1]] == ["slow"]
        assert frames[:-1][0]["seq"] < fast["seq"]

    async_to_sync(scenario)()


def test_live_events_wait_for_the_resume_of_a_new_connection(user: Any) -> None:
    async def scenario() -> None:
        first = await sync_to_async(settle)(user, 1)
        await sync_to_async(relay_drain)()
        async with connected(user, ping=False) as client:
            # Published after this connection joined, but before it asked to resume.
            await sync_to_async(settle)(user, 2)
            await sync_to_async(relay_drain)()
            await client.send({"type": "resume", "after": 0})
            frames = await client.receive_until("resumed")
            assert [f["data"]["slip"] for f in frames[:-1]] == [1, 2]
            assert frames[-1]["count"] == 2
            assert await client.nothing()  # the held live copy of slip 2 is dropped
        assert first.seq == frames[0]["seq"]

    async_to_sync(scenario)()


def test_topic_broadcasts_reach_subscribers_only(make_user: Any) -> None:
    fan, other = make_user(), make_user()

    def round_update() -> None:
        with transaction.atomic():
            event_emit(type="round.updated", topic="round:20261121", data={"round": "20261121", "status": "locked"})

    async def scenario() -> None:
        async with connected(fan) as fan_ws, connected(other) as other_ws:
            await fan_ws.send({"type": "subscribe", "topics": ["round:20261121"], "ref": 1})
            assert await fan_ws.receive() == {"type": "subscribed", "topics": ["round:20261121"], "ref": 1}
            await other_ws.send({"type": "subscribe", "topics": ["user:1"]})
            assert (await other_ws.receive())["code"] == "bad_topic"
            await sync_to_async(round_update)()
            event = await fan_ws.receive()
            assert (event["type"], event["data"]["status"]) == ("round.updated", "locked")
            assert await other_ws.nothing()
            await fan_ws.send({"type": "unsubscribe", "topics": ["round:20261121"]})
            assert (await fan_ws.receive())["topics"] == []
            await sync_to_async(round_update)()
            assert await fan_ws.nothing()

    async_to_sync(scenario)()


def test_the_core_channel_layer_delivers_too(settings: Any, make_user: Any) -> None:
    """CHANNEL_LAYER_BACKEND=core: the relay falls back to group_send per event. The core layer
    blocks 5 s in BZPOPMIN while idle, and redis-py 8 reads with a 5 s timeout unless told
    otherwise: connections must survive a quiet spell longer than that."""
    core = copy.deepcopy(settings.CHANNEL_LAYERS)
    core["default"]["BACKEND"] = "channels_redis.core.RedisChannelLayer"
    settings.CHANNEL_LAYERS = core  # channels drops its cached layers on setting_changed
    alice, bob = make_user(), make_user()

    async def scenario() -> None:
        async with connected(alice) as alice_ws, connected(bob) as bob_ws:
            await asyncio.sleep(5.5)
            await sync_to_async(settle)(alice, 1)
            await sync_to_async(settle)(bob, 2)
            assert (await alice_ws.receive())["data"]["slip"] == 1
            assert (await bob_ws.receive())["data"]["slip"] == 2
            assert await alice_ws.nothing(0.3)

    async_to_sync(scenario)()


def test_server_side_topics_from_providers_and_pushes(make_user: Any, redis_db: Any) -> None:
    """The sportsbook's hooks: a provider at connect (selections on open slips), and a push to
    join a topic later (a bet just placed)."""
    punter = make_user()

    def open_slip_selections(user_id: int) -> list[str]:
        return ["selection:11"] if user_id == punter.pk else []

    def odds_move(selection: int) -> None:
        with transaction.atomic():
            event_emit(type="odds.updated", topic=f"selection:{selection}", data={"selection": selection})

    topic_provider(open_slip_selections)
    try:

        async def scenario() -> None:
            async with connected(punter) as client:
                await sync_to_async(odds_move)(11)
                assert (await client.receive())["data"] == {"selection": 11}
                await sync_to_async(user_topics_join)(user_id=punter.pk, topics=["selection:12"])
                await subscribed(redis_db, "topic.selection.12")
                await sync_to_async(odds_move)(13)
                await sync_to_async(odds_move)(12)
                assert (await client.receive())["data"] == {"selection": 12}
                assert await client.nothing()

        async_to_sync(scenario)()
    finally:
        topic_provider_remove(open_slip_selections)
