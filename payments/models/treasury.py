"""Treasury: each user's one static virtual bank account, and the transfers that arrive in it.

A transfer into a virtual account is recorded as a `BankTransaction` and credited to the user's
wallet (`bank_clearing` -> wallet, key `deposit:<provider>:<reference>`) in one database
transaction; the unique (provider, reference) pair makes a repeated notification harmless.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class VirtualAccount(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"
        CLOSED = "closed", "Closed"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="virtual_account")
    provider = models.CharField(max_length=32)
    provider_reference = models.CharField(max_length=128, help_text="Our reference for the account at the provider.")
    account_number = models.CharField(max_length=10)
    account_name = models.CharField(max_length=255)
    bank_name = models.CharField(max_length=128)
    bank_code = models.CharField(max_length=8)
    currency = models.CharField(max_length=8, default="NGN")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    first_name = models.CharField(max_length=64)
    last_name = models.CharField(max_length=64)
    phone = models.CharField(max_length=16)
    email = models.EmailField()
    # The BVN is encrypted (Fernet, see payments/treasury/crypto.py); only its last 4 digits show.
    bvn_encrypted = models.TextField()
    bvn_last4 = models.CharField(max_length=4)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["bank_code", "account_number"], name="virtual_account_number_unique"),
            models.UniqueConstraint(fields=["provider", "provider_reference"], name="virtual_account_reference_unique"),
            models.CheckConstraint(
                condition=Q(account_number__regex=r"^[0-9]{10}$"), name="virtual_account_number_nuban"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "suspended", "closed"]), name="virtual_account_status"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account_number} {self.bank_name} ({self.account_name})"

    @property
    def bvn_masked(self) -> str:
        return f"*******{self.bvn_last4}"


class BankTransaction(models.Model):
    """A transfer that arrived in a virtual account and was credited to its owner's wallet."""

    virtual_account = models.ForeignKey(VirtualAccount, on_delete=models.PROTECT, related_name="transactions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bank_transactions")
    provider = models.CharField(max_length=32)
    reference = models.CharField(max_length=128, help_text="The provider's unique reference (session id).")
    amount = models.BigIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=8, default="NGN")
    sender_name = models.CharField(max_length=255, blank=True)
    sender_account = models.CharField(max_length=32, blank=True)
    sender_bank = models.CharField(max_length=128, blank=True)
    narration = models.CharField(max_length=255, blank=True)
    transaction_date = models.DateTimeField(null=True, blank=True, help_text="When the bank says it happened.")
    ledger_transaction = models.ForeignKey(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True, help_text="The notification as received.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "reference"], name="bank_transaction_reference_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="bank_transaction_amount_positive"),
        ]
        indexes = [models.Index(fields=["user", "-id"], name="bank_tx_user_recent")]

    def __str__(self) -> str:
        return f"{self.provider} {self.reference} {self.amount} {self.currency}"
