"""Clients of /ws/bets/ for the tests: the real ASGI application through Channels'
`WebsocketCommunicator`, authenticated the way a browser is."""

from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from typing import Any

from asgiref.sync import sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.conf import settings
from rest_framework_simplejwt.tokens import AccessToken

from config.asgi import application
from realtime.tickets import ticket_issue

ORIGIN = b"http://testserver"


def access_token(user: Any) -> str:
    return str(AccessToken.for_user(user))


def ticket_for(user: Any) -> str:
    return ticket_issue(user_id=user.pk).ticket


class Client:
    """A WebSocket client of /ws/bets/ speaking JSON frames."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def send(self, frame: dict[str, Any]) -> None:
        await self.communicator.send_to(text_data=json.dumps(frame))

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await self.communicator.receive_from(timeout))
        return frame

    async def receive_until(self, type_: str, timeout: float = 5) -> list[dict[str, Any]]:
        """Frames up to and including the first of `type_`."""
        frames = [await self.receive(timeout)]
        while frames[-1]["type"] != type_:
            frames.append(await self.receive(timeout))
        return frames

    async def nothing(self, timeout: float = 0.5) -> bool:
        result: bool = await self.communicator.receive_nothing(timeout)
        return result

    async def ping(self) -> None:
        """Round-trip a ping; also lets live events through at once (a new connection holds
        them briefly for a resume)."""
        await self.send({"type": "ping"})
        frames = await self.receive_until("pong")
        assert frames == [{"type": "pong"}], frames


def communicator(
    *, ticket: str | None = None, token: str | None = None, origin: bytes | None = ORIGIN, protocols: Any = None
) -> WebsocketCommunicator:
    path = "/ws/bets/" + (f"?ticket={ticket}" if ticket is not None else "")
    subprotocols = list(protocols) if protocols is not None else ["tote.v1"]
    if token is not None:
        subprotocols.append(f"bearer.{token}")
    headers = [(b"origin", origin)] if origin is not None else []
    return WebsocketCommunicator(application, path, headers=headers, subprotocols=subprotocols)


@asynccontextmanager
async def connected(user: Any, *, ping: bool = True, ticket: str | None = None) -> Any:
    comm = communicator(ticket=ticket if ticket is not None else await _ticket(user))
    ok, subprotocol = await comm.connect()
    assert ok, subprotocol
    client = Client(comm)
    try:
        if ping:
            await client.ping()
        yield client
    finally:
        await comm.disconnect()


async def _ticket(user: Any) -> str:
    result: str = await sync_to_async(ticket_for)(user)
    return result


async def subscribed(redis_db: Any, group: str) -> None:
    """Until the consumer's process has subscribed to the group's pub/sub channel."""
    channel = f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}__group__{group}"
    for _ in range(100):
        if dict(redis_db.pubsub_numsub(channel)).get(channel.encode()):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"nobody subscribed to {channel}")
