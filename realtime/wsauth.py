"""Who is on the other end of a /ws/bets/ handshake.

Two ways: `?ticket=<t>` from `POST /api/realtime/ticket` (single use, seconds long), or a JWT
access token offered as the subprotocol `bearer.<jwt>` beside `tote.v1` (the browser API cannot
set an Authorization header on a WebSocket; the server answers `tote.v1`, never the token).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from redis.exceptions import RedisError
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from realtime.protocol import BEARER_PREFIX, CLOSE_FORBIDDEN, CLOSE_TRY_AGAIN_LATER, CLOSE_UNAUTHENTICATED, SUBPROTOCOL
from realtime.tickets import ticket_redeem
from users.models import User


@dataclass(frozen=True)
class Denied:
    code: int
    reason: str


def _ticket(scope: dict[str, Any]) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get("ticket")
    return values[0] if values else None


def _bearer(scope: dict[str, Any]) -> str | None:
    for protocol in scope.get("subprotocols", []):
        if protocol.startswith(BEARER_PREFIX):
            return str(protocol[len(BEARER_PREFIX) :])
    return None


@database_sync_to_async
def _user_state(user_id: int) -> bool | None:
    """True: may connect; False: disabled; None: no such user."""
    active = User.objects.filter(pk=user_id).values_list("is_active", flat=True).first()
    return None if active is None else bool(active)


async def authenticate(scope: dict[str, Any]) -> int | Denied:
    """The user id, or why the connection must close. Redis errors propagate (not the client's fault)."""
    ticket, bearer = _ticket(scope), _bearer(scope)
    if ticket is not None:
        user_id = await ticket_redeem(ticket)
        if user_id is None:
            return Denied(CLOSE_UNAUTHENTICATED, "ticket unknown, expired or already used")
    elif bearer is not None:
        try:
            token = AccessToken(bearer)  # type: ignore[arg-type]
            user_id = int(token[api_settings.USER_ID_CLAIM])
        except (TokenError, KeyError, ValueError, TypeError):
            return Denied(CLOSE_UNAUTHENTICATED, "token invalid or expired")
    else:
        return Denied(CLOSE_UNAUTHENTICATED, "credentials required: ?ticket= or the bearer subprotocol")
    state = await _user_state(user_id)
    if state is None:
        return Denied(CLOSE_UNAUTHENTICATED, "unknown user")
    if not state:
        return Denied(CLOSE_FORBIDDEN, "account disabled")
    return user_id


ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class RefusedConsumer(AsyncWebsocketConsumer):
    """Accepts, then closes at once with a code the client can read (a close before accept
    reaches it as a bare HTTP 403, like a bad Origin). Joins no channel layer: a flood of bad
    tickets costs Redis nothing."""

    channel_layer_alias = "realtime.refused"  # not configured, so no channel is made

    def __init__(self, *, code: int, reason: str) -> None:
        super().__init__()
        self.code, self.reason = code, reason

    async def connect(self) -> None:
        offered = self.scope.get("subprotocols", [])
        await self.accept(SUBPROTOCOL if SUBPROTOCOL in offered else None)
        await self.close(self.code, self.reason)


def websocket_auth(inner: ASGIApp) -> ASGIApp:
    """Authenticate the handshake; the inner application finds the user in scope["user_id"]."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            result = await authenticate(scope)
        except RedisError:
            result = Denied(CLOSE_TRY_AGAIN_LATER, "try again later")
        if isinstance(result, Denied):
            refuse = RefusedConsumer.as_asgi(code=result.code, reason=result.reason)
            await refuse(scope, receive, send)
            return
        await inner({**scope, "user_id": result}, receive, send)

    return app
