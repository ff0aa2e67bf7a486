from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from betting.rounds import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("rounds/current", api.RoundCurrentView.as_view(), name="rounds-current"),
    path("rounds/current/bets", api.RoundCurrentBetsView.as_view(), name="rounds-current-bets"),
    path("rounds/<str:code>", api.RoundDetailView.as_view(), name="rounds-detail"),
    path("tvl", api.TvlView.as_view(), name="tvl"),
]
