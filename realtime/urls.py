from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from realtime import api
from realtime.cashout import api as cashout_api

urlpatterns: list[URLPattern | URLResolver] = [
    path("realtime/ticket", api.TicketView.as_view(), name="realtime-ticket"),
    path("bets/<int:slip_id>/cashout-offers", cashout_api.CashoutOffersView.as_view(), name="cashout-offers"),
    path("bets/<int:slip_id>/auto-cashout", cashout_api.AutoCashoutView.as_view(), name="auto-cashout"),
    path("cashout-offers/<int:offer_id>/accept", cashout_api.CashoutAcceptView.as_view(), name="cashout-offer-accept"),
]
