from django.urls import path

from ledger import api

urlpatterns = [
    path("wallets", api.WalletsView.as_view(), name="wallets"),
    path("wallets/<str:currency>/transactions", api.WalletTransactionsView.as_view(), name="wallet-transactions"),
    path("simulate/deposit_webhook", api.SimulatedDepositView.as_view(), name="simulate-deposit"),
]
