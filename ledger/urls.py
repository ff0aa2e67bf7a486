from django.urls import path

from ledger import api
from ledger.chain import api as chain_api

urlpatterns = [
    path("wallets", api.WalletsView.as_view(), name="wallets"),
    path("wallets/<str:currency>/transactions", api.WalletTransactionsView.as_view(), name="wallet-transactions"),
    path("simulate/deposit_webhook", api.SimulatedDepositView.as_view(), name="simulate-deposit"),
    path("ledger/entries", chain_api.ChainEntriesView.as_view(), name="ledger-entries"),
    path("ledger/export.csv", chain_api.ChainExportView.as_view(), name="ledger-export"),
]
