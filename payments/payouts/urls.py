from django.urls import path

from payments.payouts import api, api_ops

urlpatterns = [
    path("payout-destination", api.PayoutDestinationView.as_view(), name="payout-destination"),
    path("withdrawals", api.WithdrawalsView.as_view(), name="withdrawals"),
    path("withdrawals/<int:payout_id>/cancel", api.WithdrawalCancelView.as_view(), name="withdrawal-cancel"),
    path(
        "admin/withdrawals/<int:payout_id>/approve",
        api.WithdrawalApproveView.as_view(),
        name="withdrawal-approve",
    ),
    path(
        "admin/withdrawals/<int:payout_id>/reject",
        api.WithdrawalRejectView.as_view(),
        name="withdrawal-reject",
    ),
    path("admin/payout-monitoring", api_ops.PayoutMonitoringView.as_view(), name="payout-monitoring"),
    path("cron/automated-payouts", api_ops.CronAutomatedPayoutsView.as_view(), name="cron-automated-payouts"),
    path("payments/stripe/webhook", api_ops.StripeWebhookView.as_view(), name="stripe-webhook"),
]
