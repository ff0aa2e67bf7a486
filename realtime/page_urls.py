from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from realtime.views import TicketsPageView

urlpatterns: list[URLPattern | URLResolver] = [
    path("", TicketsPageView.as_view(), name="tickets"),
]
