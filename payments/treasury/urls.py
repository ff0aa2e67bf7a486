from django.urls import path

from payments.treasury import api

urlpatterns = [
    path("treasury/accounts", api.TreasuryAccountsView.as_view(), name="treasury-accounts"),
    path("treasury/accounts/me", api.TreasuryAccountMeView.as_view(), name="treasury-account-me"),
    path("treasury/deposits", api.DepositsView.as_view(), name="treasury-deposits"),
    path("treasury/webhook", api.WemaWebhookView.as_view(), name="treasury-webhook"),
    path("treasury/webhook/paystack", api.PaystackWebhookView.as_view(), name="treasury-webhook-paystack"),
]
