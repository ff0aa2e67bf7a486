"""How the relay puts a batch of events on the channel layer.

- On channels-redis' pub/sub layer with one Redis host (the default here): PUBLISH to each
  group's Redis channel, pipelined, 500 commands a round trip. The layer's own group_send sends
  one PUBLISH per call behind a per-process lock, so 1,000 events cost 1,000 round trips in turn
  (bench/realtime.py shows the difference). Payloads are serialized by the layer itself, and the
  Redis channel of a group is the layer's `<prefix>__group__<group>`; the delivery tests go
  through real consumers, so a change of that naming fails them.
- Otherwise (the core layer, several Redis hosts): `group_send` per event, groups in parallel
  under a concurrency cap that keeps the redis-py pool below REDIS_MAX_CONNECTIONS.

Either way one group's events go out in seq order, and a failure stops that group's sequence
(its later events wait for the next cycle), so a user never sees them out of order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import structlog
from channels.layers import BaseChannelLayer
from django.conf import settings
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from core.metrics import OUTBOX_SEND_FAILURES

log = structlog.get_logger(__name__)

PIPELINE_CHUNK = 500
PUBSUB_LAYER = "channels_redis.pubsub.RedisPubSubChannelLayer"

# (seq, group, channel-layer message), in seq order
Outgoing = Sequence[tuple[int, str, dict[str, Any]]]


class Fanout(Protocol):
    async def send(self, messages: Outgoing, *, timeout_s: float) -> dict[int, int]:
        """Send; return per seq how many of its messages reached the layer."""

    async def close(self) -> None: ...


class GroupSendFanout:
    def __init__(self, layer: BaseChannelLayer, *, concurrency: int) -> None:
        self.layer = layer
        self.concurrency = concurrency

    async def send(self, messages: Outgoing, *, timeout_s: float) -> dict[int, int]:
        by_group: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for seq, group, message in messages:
            by_group.setdefault(group, []).append((seq, message))
        delivered: dict[int, int] = {}
        gate = asyncio.Semaphore(self.concurrency)

        async def send_group(group: str, items: list[tuple[int, dict[str, Any]]]) -> None:
            for seq, message in items:
                try:
                    async with gate:
                        await self.layer.group_send(group, message)
                except (RedisError, OSError) as exc:
                    OUTBOX_SEND_FAILURES.inc()
                    log.warning("outbox_send_failed", group=group, seq=seq, error=str(exc))
                    return
                delivered[seq] = delivered.get(seq, 0) + 1

        tasks = [asyncio.ensure_future(send_group(group, items)) for group, items in by_group.items()]
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=timeout_s)
            for task in late:
                task.cancel()
            if late:
                OUTBOX_SEND_FAILURES.inc(len(late))
                log.warning("outbox_send_timeout", groups=len(late), timeout_s=timeout_s)
                await asyncio.gather(*late, return_exceptions=True)
        return delivered

    async def close(self) -> None:
        return None


class PubSubFanout:
    def __init__(self, layer: Any, *, address: str, prefix: str) -> None:
        self.layer = layer
        self.prefix = prefix
        self.client = aioredis.Redis.from_url(
            address, socket_timeout=settings.REALTIME_CHANNEL_SOCKET_TIMEOUT_S, socket_connect_timeout=5
        )

    def channel(self, group: str) -> str:
        return f"{self.prefix}__group__{group}"

    async def send(self, messages: Outgoing, *, timeout_s: float) -> dict[int, int]:
        delivered: dict[int, int] = {}
        for start in range(0, len(messages), PIPELINE_CHUNK):
            chunk = messages[start : start + PIPELINE_CHUNK]
            pipe = self.client.pipeline(transaction=False)
            for _, group, message in chunk:
                pipe.publish(self.channel(group), self.layer.serialize(message))
            try:
                await asyncio.wait_for(pipe.execute(), timeout_s)
            except (RedisError, OSError, TimeoutError) as exc:
                # In order: nothing after a failed chunk goes out in this cycle.
                OUTBOX_SEND_FAILURES.inc()
                log.warning("outbox_send_failed", messages=len(messages) - start, error=str(exc))
                break
            for seq, _, _ in chunk:
                delivered[seq] = delivered.get(seq, 0) + 1
        return delivered

    async def close(self) -> None:
        await self.client.aclose()


def fanout_for(layer: BaseChannelLayer, alias: str) -> Fanout:
    config: dict[str, Any] = settings.CHANNEL_LAYERS[alias]
    hosts = config.get("CONFIG", {}).get("hosts", [])
    if config["BACKEND"] == PUBSUB_LAYER and len(hosts) == 1 and "address" in hosts[0]:
        return PubSubFanout(layer, address=hosts[0]["address"], prefix=config["CONFIG"].get("prefix", "asgi"))
    return GroupSendFanout(layer, concurrency=settings.REALTIME_RELAY_CONCURRENCY)
