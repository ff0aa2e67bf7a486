"""/ws/bets/: a player's live events (bets, cashouts, balance) and their requests.

Server frames: the event envelope `{"type", "id", "seq", "ts", "data"}`, and `pong`, `resumed`,
`subscribed`, `unsubscribed`, `error` (`{"type": "error", "code", "message", "details"}`).
Client frames: see `BetsConsumer.HANDLERS`; each may carry a `ref` that the answer echoes.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, ClassVar

import structlog
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from core.metrics import WEBSOCKET_CONNECTIONS
from realtime.cashout import ws as cashout_ws
from realtime.protocol import SUBPROTOCOL, error_frame, topic_group, topic_kind, user_group
from realtime.selectors import events_missed
from realtime.slip_topics import placed_slip_topics
from realtime.subscriptions import has_topic_providers, topics_for_user

log = structlog.get_logger(__name__)

MAX_FRAME_CHARS = 8192
SEEN_IDS = 2048  # event ids remembered per connection to drop repeats (replay vs live, two groups)
MAX_HELD = 1000  # live events held for a resume before they are let through anyway


class BetsConsumer(AsyncWebsocketConsumer):
    # Client message type -> method.
    HANDLERS: ClassVar[dict[str, str]] = {
        "ping": "on_ping",
        "resume": "on_resume",
        "subscribe": "on_subscribe",
        "unsubscribe": "on_unsubscribe",
        "cashout.request": "on_cashout_request",
        "cashout.accept": "on_cashout_accept",
        "cashout.auto": "on_cashout_auto",
    }

    user_id: int | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections (a thread hop) before every message; here
        # every database call goes through database_sync_to_async, which does that itself, and a
        # pushed event must not wait for a thread.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- connection ---------------------------------------------------------------------------

    async def connect(self) -> None:
        user_id: int = self.scope["user_id"]  # set by realtime.wsauth.websocket_auth
        subprotocol = SUBPROTOCOL if SUBPROTOCOL in self.scope.get("subprotocols", []) else None
        self.user_id = user_id
        self.topics: set[str] = set()
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.held: list[dict[str, Any]] | None = []
        self.order = asyncio.Lock()
        self.hold_timer: asyncio.Future[None] | None = None
        self.counted = False
        await self.channel_layer.group_add(user_group(user_id), self.channel_name)
        if has_topic_providers():
            await self._join(await database_sync_to_async(topics_for_user)(user_id))
        await self.accept(subprotocol)
        WEBSOCKET_CONNECTIONS.inc()
        self.counted = True
        self.hold_timer = asyncio.ensure_future(self._hold_expires())

    async def disconnect(self, code: int) -> None:
        if self.user_id is None:
            return
        if self.hold_timer is not None:
            self.hold_timer.cancel()
        if self.counted:
            WEBSOCKET_CONNECTIONS.dec()
            self.counted = False
        await self.channel_layer.group_discard(user_group(self.user_id), self.channel_name)
        for topic in list(self.topics):
            await self.channel_layer.group_discard(topic_group(topic), self.channel_name)
        self.user_id = None

    # --- live events from the relay -----------------------------------------------------------

    async def outbox_event(self, message: dict[str, Any]) -> None:
        if self.user_id is None:
            return
        if message["event"]["type"] == "bet.placed":  # odds of the new slip's events from now on
            await self._join(placed_slip_topics(message["event"]["data"]))
        # The lock keeps an event behind a replay or a release of held events still being sent.
        async with self.order:
            if self.held is not None:
                self.held.append(message["event"])
                if len(self.held) < MAX_HELD:
                    return
                await self._release_held()
                return
            await self._deliver(message["event"])

    async def topics_join(self, message: dict[str, Any]) -> None:
        await self._join(message["topics"])

    async def topics_leave(self, message: dict[str, Any]) -> None:
        await self._leave(message["topics"])

    # --- client messages ----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user_id is None:
            return
        async with self.order:
            await self._handle(text_data)
            await self._release_held()

    async def _handle(self, text_data: str | None) -> None:
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            await self._send(error_frame("bad_message", f"Send JSON text frames of at most {MAX_FRAME_CHARS} chars."))
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            await self._send(error_frame("bad_message", 'A message is a JSON object with a "type".'))
            return
        name = self.HANDLERS.get(message["type"])
        if name is None:
            await self._send(
                error_frame(
                    "unknown_type",
                    f"Unknown message type {message['type'][:64]!r}.",
                    ref=_ref(message),
                    details={"known": sorted(self.HANDLERS)},
                )
            )
            return
        await getattr(self, name)(message)

    async def on_ping(self, message: dict[str, Any]) -> None:
        await self._send(_with_ref({"type": "pong"}, message))

    async def on_resume(self, message: dict[str, Any]) -> None:
        after = message.get("after")
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            await self._send(error_frame("bad_message", '"after" must be a seq (an integer >= 0).', ref=_ref(message)))
            return
        user_id = self.user_id
        if user_id is None:
            return
        replay = await database_sync_to_async(events_missed)(user_id=user_id, after=after)
        sent = 0
        for event in replay.events:
            sent += await self._deliver(event)
        await self._send(
            _with_ref({"type": "resumed", "after": after, "count": sent, "complete": replay.complete}, message)
        )

    async def on_subscribe(self, message: dict[str, Any]) -> None:
        topics = await self._client_topics(message)
        if topics is None:
            return
        if len(self.topics | set(topics)) > settings.REALTIME_MAX_TOPICS:
            await self._send(
                error_frame("too_many_topics", f"At most {settings.REALTIME_MAX_TOPICS} topics.", ref=_ref(message))
            )
            return
        await self._join(topics)
        await self._send(_with_ref({"type": "subscribed", "topics": sorted(self.topics)}, message))

    async def on_unsubscribe(self, message: dict[str, Any]) -> None:
        topics = await self._client_topics(message)
        if topics is None:
            return
        await self._leave(topics)
        await self._send(_with_ref({"type": "unsubscribed", "topics": sorted(self.topics)}, message))

    async def on_cashout_request(self, message: dict[str, Any]) -> None:
        await self._cashout(cashout_ws.cashout_request, message)

    async def on_cashout_accept(self, message: dict[str, Any]) -> None:
        await self._cashout(cashout_ws.cashout_accept, message)

    async def on_cashout_auto(self, message: dict[str, Any]) -> None:
        await self._cashout(cashout_ws.cashout_auto, message)

    async def _cashout(self, answer: Callable[[int, dict[str, Any]], dict[str, Any]], message: dict[str, Any]) -> None:
        user_id = self.user_id
        if user_id is None:
            return
        frame = _with_ref(await database_sync_to_async(answer)(user_id, message), message)
        if "id" in frame:
            await self._deliver(frame)  # an outbox event: its relayed copy is dropped as seen
        else:
            await self._send(frame)

    # --- helpers ------------------------------------------------------------------------------

    async def _client_topics(self, message: dict[str, Any]) -> list[str] | None:
        topics = message.get("topics")
        public = set(settings.REALTIME_PUBLIC_TOPIC_KINDS)
        if (
            not isinstance(topics, list)
            or not topics
            or not all(isinstance(t, str) and topic_kind(t) in public for t in topics)
        ):
            await self._send(
                error_frame(
                    "bad_topic",
                    "topics: a list of <kind>:<key> of a public kind.",
                    ref=_ref(message),
                    details={"public_kinds": sorted(public)},
                )
            )
            return None
        return topics

    async def _join(self, topics: list[str]) -> None:
        for topic in topics:
            if topic not in self.topics:
                await self.channel_layer.group_add(topic_group(topic), self.channel_name)
                self.topics.add(topic)

    async def _leave(self, topics: list[str]) -> None:
        for topic in topics:
            if topic in self.topics:
                await self.channel_layer.group_discard(topic_group(topic), self.channel_name)
                self.topics.discard(topic)

    async def _deliver(self, event: dict[str, Any]) -> int:
        """Send an event unless this connection already sent it; 1 if sent."""
        event_id = event["id"]
        if event_id in self.seen:
            return 0
        self.seen[event_id] = None
        if len(self.seen) > SEEN_IDS:
            self.seen.popitem(last=False)
        await self._send(event)
        return 1

    async def _release_held(self) -> None:
        held, self.held = self.held, None
        for event in held or ():
            await self._deliver(event)

    async def _hold_expires(self) -> None:
        """A client that sends nothing (no resume) gets its live events after a short hold."""
        await asyncio.sleep(settings.REALTIME_HOLD_LIVE_MS / 1000)
        async with self.order:
            await self._release_held()

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(frame, separators=(",", ":")))


def _ref(message: dict[str, Any]) -> Any:
    ref = message.get("ref")
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref
    if isinstance(ref, str) and len(ref) <= 64:
        return ref
    return None


def _with_ref(frame: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
    ref = _ref(message)
    if ref is not None:
        frame["ref"] = ref
    return frame
