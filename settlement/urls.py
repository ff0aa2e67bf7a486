from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from settlement import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("settlement/webhook", api.SettlementWebhookView.as_view(), name="settlement-webhook"),
    path("settlement/health", api.SettlementHealthView.as_view(), name="settlement-health"),
    path("cron/settle-bets", api.CronSettleView.as_view(), name="cron-settle-bets"),
    path("admin/markets/<int:market_id>/void-bets", api.AdminVoidWindowView.as_view(), name="admin-market-void-bets"),
]
