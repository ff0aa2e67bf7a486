"""Payments models, one module per rail: top-up (Selcom), treasury (Wema), payouts (Stripe)."""

from payments.models.payouts import (
    Payee,
    Payout,
    PayoutAlert,
    PayoutAlertConfig,
    PayoutRun,
    PayoutSchedule,
    StripeEvent,
)
from payments.models.topup import TopUp, TopUpEvent
from payments.models.treasury import BankTransaction, VirtualAccount

__all__ = [
    "BankTransaction",
    "Payee",
    "Payout",
    "PayoutAlert",
    "PayoutAlertConfig",
    "PayoutRun",
    "PayoutSchedule",
    "StripeEvent",
    "TopUp",
    "TopUpEvent",
    "VirtualAccount",
]
