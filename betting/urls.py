from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from betting.api import operators, public

urlpatterns: list[URLPattern | URLResolver] = [
    path("events", public.EventsView.as_view(), name="events"),
    path("events/<int:event_id>", public.EventDetailView.as_view(), name="event-detail"),
    path("bets", public.BetsView.as_view(), name="bets"),
    path("bets/<int:slip_id>", public.BetDetailView.as_view(), name="bet-detail"),
    path("admin/events", operators.AdminEventsView.as_view(), name="admin-events"),
    path("admin/events/<int:event_id>/result", operators.AdminEventResultView.as_view(), name="admin-event-result"),
    path("admin/markets/<int:market_id>", operators.AdminMarketView.as_view(), name="admin-market"),
    path("", include("betting.rounds.urls")),
]
