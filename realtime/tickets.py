"""Short-lived single-use tickets for /ws/bets/, so no long-lived token sits in a URL.

`POST /api/realtime/ticket` issues one; the WebSocket handshake redeems it with GETDEL, so a
ticket opens one connection at most, even when two handshakes race. Redis keeps only a hash of
the ticket, with a TTL of REALTIME_TICKET_TTL_S.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import cache

import redis
from django.conf import settings
from redis import asyncio as aioredis

from core.errors import DependencyDown

MAX_TICKET_LENGTH = 128


@dataclass(frozen=True)
class IssuedTicket:
    ticket: str
    expires_in: int


def _key(ticket: str) -> str:
    digest = hashlib.sha256(ticket.encode()).hexdigest()
    return f"{settings.REALTIME_KEY_PREFIX}:ws-ticket:{digest}"


@cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)


def ticket_issue(*, user_id: int) -> IssuedTicket:
    ticket = secrets.token_urlsafe(32)
    ttl = settings.REALTIME_TICKET_TTL_S
    try:
        _client(settings.REDIS_URL).set(_key(ticket), str(user_id), ex=ttl)
    except redis.RedisError as exc:
        raise DependencyDown("Live updates are unavailable right now.", code="realtime_unavailable") from exc
    return IssuedTicket(ticket=ticket, expires_in=ttl)


async def ticket_redeem(ticket: str) -> int | None:
    """The user id the ticket was issued to, once; None if unknown, expired or already used."""
    if not ticket or len(ticket) > MAX_TICKET_LENGTH:
        return None
    # A connection per handshake: handshakes are rare next to messages, and a client bound to
    # one event loop's pool would not survive the next loop (tests, workers).
    client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        value = await client.getdel(_key(ticket))
    finally:
        await client.aclose()
    return int(value) if value is not None else None
