from django.urls import path

from payments.topup import api

urlpatterns = [
    path("topup", api.TopUpListCreateView.as_view(), name="topup-list"),
    path("topup/webhook", api.TopUpWebhookView.as_view(), name="topup-webhook"),
    path("topup/<int:topup_id>", api.TopUpDetailView.as_view(), name="topup-detail"),
]
