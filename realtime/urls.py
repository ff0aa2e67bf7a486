from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from realtime import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("realtime/ticket", api.TicketView.as_view(), name="realtime-ticket"),
]
