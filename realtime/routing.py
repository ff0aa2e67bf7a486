"""WebSocket routes; the bet-ticket consumer arrives with the live-tickets capability."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
