"""Payments models, one module per rail: top-up (Selcom), treasury (Wema), payouts (Stripe)."""

from payments.models.topup import TopUp, TopUpEvent
from payments.models.treasury import BankTransaction, VirtualAccount

__all__ = ["BankTransaction", "TopUp", "TopUpEvent", "VirtualAccount"]
