"""The double-entry journal: accounts, transactions (journal entries) and postings (lines).

Invariants, each enforced in the service and again in PostgreSQL (migration 0002):
- the postings of a transaction sum to zero per currency (deferred constraint trigger);
- transactions and postings are append-only (UPDATE and DELETE are rejected by triggers);
- a wallet never goes below zero and a receivable never above zero (CHECK constraints);
- one transaction per idempotency key (unique index).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ledger.currencies import CURRENCY_CHOICES


class Account(models.Model):
    class Kind(models.TextChoices):
        # Per user and currency. The balance is kept on the row (see services.py).
        WALLET = "wallet", "Wallet"
        RECEIVABLE = "receivable", "Receivable"
        # Per currency, system-wide. Their balance is the sum of their postings.
        BETS_ESCROW = "bets_escrow", "Bets escrow"
        HOUSE = "house", "House"
        FEES = "fees", "Fees"
        ROUNDING = "rounding", "Rounding"
        TOPUP_CLEARING = "topup_clearing", "Top-up clearing"
        BANK_CLEARING = "bank_clearing", "Bank clearing"
        PAYOUT_CLEARING = "payout_clearing", "Payout clearing"
        CHAIN_CLEARING = "chain_clearing", "Chain clearing"

    USER_KINDS = frozenset({Kind.WALLET, Kind.RECEIVABLE})

    kind = models.CharField(max_length=32, choices=Kind.choices)
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger_accounts"
    )
    # Kept for user accounts only; always 0 on system accounts (their rows are never locked).
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "currency"],
                condition=Q(user__isnull=False),
                name="account_user_kind_currency_unique",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"], condition=Q(user__isnull=True), name="account_system_kind_currency_unique"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["wallet", "receivable"], user__isnull=False)
                | (~Q(kind__in=["wallet", "receivable"]) & Q(user__isnull=True)),
                name="account_owner_matches_kind",
            ),
            models.CheckConstraint(condition=~Q(kind="wallet") | Q(balance__gte=0), name="wallet_balance_non_negative"),
            models.CheckConstraint(
                condition=~Q(kind="receivable") | Q(balance__lte=0), name="receivable_balance_non_positive"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["wallet", "receivable"]) | Q(balance=0), name="system_account_balance_not_stored"
            ),
        ]

    def __str__(self) -> str:
        owner = f"user {self.user_id}" if self.user_id else "system"
        return f"{self.kind} {self.currency} ({owner})"

    @property
    def is_user_account(self) -> bool:
        return self.kind in self.USER_KINDS


class Transaction(models.Model):
    """One journal entry. Append-only: a mistake is corrected by a reversing transaction."""

    idempotency_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=64, db_index=True)
    reference = models.CharField(max_length=128, blank=True, db_index=True)
    description = models.CharField(max_length=255, blank=True)
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    lines_digest = models.CharField(max_length=64, help_text="SHA-256 of the lines, to tell a replay from a clash.")
    metadata = models.JSONField(default=dict, blank=True)
    correlation_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.idempotency_key}"


class Posting(models.Model):
    """One line of a transaction: a signed amount on one account (+ credits, - debits).

    The foreign keys are checked by a per-statement trigger rather than per-row FK constraints,
    which would cost more than all the other ledger checks together in bulk settlement.
    """

    transaction = models.ForeignKey(
        Transaction, on_delete=models.DO_NOTHING, db_constraint=False, related_name="postings"
    )
    account = models.ForeignKey(
        Account, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="postings"
    )
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=8)

    class Meta:
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="posting_amount_non_zero")]
        indexes = [models.Index(fields=["account", "id"], include=["amount"], name="posting_account_history")]

    def __str__(self) -> str:
        return f"{self.amount:+d} {self.currency} on account {self.account_id}"
