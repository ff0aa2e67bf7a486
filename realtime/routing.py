"""WebSocket routes (config/asgi.py wraps them in AllowedHostsOriginValidator)."""

from __future__ import annotations

from django.urls import URLPattern, path

from realtime.consumers import BetsConsumer
from realtime.wsauth import websocket_auth

websocket_urlpatterns: list[URLPattern] = [
    path("ws/bets/", websocket_auth(BetsConsumer.as_asgi()), name="ws-bets"),  # type: ignore[arg-type]
]
