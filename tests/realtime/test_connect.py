"""Who may open /ws/bets/, and what a refused client is told."""

from __future__ import annotations

import time
from typing import Any

import pytest
import time_machine
from asgiref.sync import async_to_sync
from prometheus_client import REGISTRY

from tests.realtime.helpers import Client, access_token, communicator, connected, ticket_for

pytestmark = pytest.mark.django_db(transaction=True)


async def closed_with(comm: Any) -> tuple[int, str]:
    """Connect, expecting the server to accept and then close: (code, reason)."""
    ok, _ = await comm.connect()
    assert ok
    frame = await comm.receive_output(2)
    assert frame["type"] == "websocket.close", frame
    await comm.disconnect()
    return frame["code"], frame.get("reason", "")


def test_ticket_endpoint_needs_a_user_and_issues_a_ticket(api: Any, auth_api: Any) -> None:
    assert api.post("/api/realtime/ticket").status_code == 401
    response = auth_api.post("/api/realtime/ticket")
    assert response.status_code == 201
    body = response.json()
    assert len(body["ticket"]) >= 32
    assert body["expires_in"] == 30
    assert body["url"] == f"/ws/bets/?ticket={body['ticket']}"


def test_a_ticket_opens_one_connection(user: Any) -> None:
    ticket = ticket_for(user)

    async def scenario() -> None:
        async with connected(user, ticket=ticket) as client:
            # A second handshake with the same ticket, even while the first is open, is refused.
            assert await closed_with(communicator(ticket=ticket)) == (4401, "ticket unknown, expired or already used")
            await client.ping()

    async_to_sync(scenario)()


def test_unknown_ticket_and_no_credentials_are_refused() -> None:
    async def scenario() -> None:
        assert (await closed_with(communicator(ticket="not-a-ticket")))[0] == 4401
        code, reason = await closed_with(communicator())
        assert code == 4401
        assert "credentials required" in reason

    async_to_sync(scenario)()


def test_expired_ticket_is_refused(user: Any, settings: Any) -> None:
    settings.REALTIME_TICKET_TTL_S = 1
    ticket = ticket_for(user)
    time.sleep(1.2)  # Redis keeps the TTL on its own clock
    assert async_to_sync(closed_with)(communicator(ticket=ticket))[0] == 4401


def test_jwt_in_the_subprotocol_authenticates(user: Any) -> None:
    async def scenario() -> None:
        comm = communicator(token=access_token(user))
        ok, subprotocol = await comm.connect()
        assert ok
        assert subprotocol == "tote.v1"  # never the token echoed back
        await Client(comm).ping()
        await comm.disconnect()

    async_to_sync(scenario)()


def test_bad_or_expired_jwt_is_refused(user: Any) -> None:
    with time_machine.travel(time.time() - 3600):
        stale = access_token(user)
    token = access_token(user)
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")

    async def scenario() -> None:
        assert await closed_with(communicator(token=stale)) == (4401, "token invalid or expired")
        assert (await closed_with(communicator(token=forged)))[0] == 4401

    async_to_sync(scenario)()


def test_disabled_account_is_forbidden(make_user: Any) -> None:
    user = make_user()
    token = access_token(user)
    user.is_active = False
    user.save(update_fields=["is_active"])
    assert async_to_sync(closed_with)(communicator(token=token)) == (4403, "account disabled")


def test_foreign_or_missing_origin_is_refused_before_anything_else(user: Any) -> None:
    token = access_token(user)

    async def scenario() -> None:
        for origin in (b"https://evil.example", None):
            comm = communicator(token=token, origin=origin)
            ok, code = await comm.connect()
            assert (ok, code) == (False, 1000)  # the handshake fails: HTTP 403 on a real server
        comm = communicator(token=token, origin=b"http://localhost:8000")
        ok, _ = await comm.connect()
        assert ok
        await comm.disconnect()

    async_to_sync(scenario)()


def test_ping_unknown_and_cashout_messages(user: Any) -> None:
    async def scenario() -> None:
        async with connected(user, ping=False) as client:
            await client.send({"type": "ping", "ref": 7})
            assert await client.receive() == {"type": "pong", "ref": 7}
            await client.send({"type": "bet.place", "ref": "a"})
            error = await client.receive()
            assert error["type"] == "error"
            assert error["code"] == "unknown_type"
            assert error["ref"] == "a"
            assert "cashout.request" in error["details"]["known"]
            answers = {"cashout.request": "slip_not_found", "cashout.accept": "bad_message", "cashout.auto": ""}
            for type_, reason in answers.items():
                await client.send({"type": type_, "slip": 1, "ref": type_})
                frame = await client.receive()
                assert (frame["type"], frame["ref"]) == ("cashout.error", type_)
                assert frame["data"]["reason"] == (reason or "target_required")
            await client.communicator.send_to(text_data="{not json")
            assert (await client.receive())["code"] == "bad_message"
            await client.send({"type": "resume", "after": "12"})
            assert (await client.receive())["code"] == "bad_message"

    async_to_sync(scenario)()


def test_connection_gauge_follows_open_connections(make_user: Any) -> None:
    first, second = make_user(), make_user()

    def gauge() -> float:
        return REGISTRY.get_sample_value("tote_websocket_connections") or 0.0

    before = gauge()

    async def scenario() -> None:
        async with connected(first):
            assert gauge() == before + 1
            async with connected(second):
                assert gauge() == before + 2
            assert gauge() == before + 1
        # A refused handshake never counts.
        await closed_with(communicator(ticket="nope"))
        assert gauge() == before

    async_to_sync(scenario)()
