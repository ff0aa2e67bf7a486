"""Payments models, one module per rail: top-up (Selcom), treasury (Wema), payouts (Stripe)."""

from payments.models.payouts import (  # noqa: F401
    Payee,
    Payout,
    PayoutAlert,
    PayoutAlertConfig,
    PayoutRun,
    PayoutSchedule,
    StripeEvent,
)
