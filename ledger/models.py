"""The double-entry journal: accounts, transactions (journal entries) and postings (lines).

Invariants, each enforced in the service and again in PostgreSQL (migrations 0003 onwards):
- the postings of a transaction sum to zero per currency: each INSERT of postings must balance
  per transaction, and a new transaction must have its postings, checked as its INSERT statement
  ends when that statement wrote them too, otherwise at commit (a deferred constraint trigger;
  migrations 0007 and 0010);
- transactions and postings are append-only (UPDATE and DELETE are rejected by triggers);
- a wallet never goes below zero and a receivable never above zero (a CHECK constraint, 0013);
- one transaction per idempotency key (unique index).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Func, Q
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
    # No index of its own: the unique (user, kind, currency) index leads with the user.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_accounts",
        db_index=False,
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
            # A wallet or receivable belongs to a user, a system account to none; a wallet never
            # goes below zero, a receivable never above; a system account keeps no balance on its
            # row. One function (ledger/0013): PostgreSQL reads and plans a CHECK's expression on
            # every UPDATE, and four plain ones cost a sixth of a ledger post.
            models.CheckConstraint(
                condition=Func(
                    F("kind"),
                    F("user"),
                    F("balance"),
                    function="ledger_account_valid",
                    output_field=models.BooleanField(),
                ),
                name="account_kind_owner_balance",
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
    # Not indexed: nothing looks a transaction up by its reference (the admin searches it as text).
    reference = models.CharField(max_length=128, blank=True)
    description = models.CharField(max_length=255, blank=True)
    # Reversed at most once: a unique index over the reversals only (most transactions reverse
    # nothing and add no entry to it).
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by", db_index=False
    )
    lines_digest = models.CharField(max_length=64, help_text="SHA-256 of the lines, to tell a replay from a clash.")
    metadata = models.JSONField(default=dict, blank=True)
    correlation_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["reverses"], condition=Q(reverses__isnull=False), name="transaction_reversed_once"
            )
        ]

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


# --- On-chain audit trail (ledger/chain) -------------------------------------------------------
# Ordinary rows (not under the journal's append-only triggers): a record moves through its
# statuses as its transaction is sent, replaced and confirmed. The chain is the tamper evidence.


class ChainRecord(models.Model):
    """One fact anchored on the chain: a subject (a bet slip, by id) and the amount won on it."""

    class SubjectKind(models.TextChoices):
        BET_SLIP = "bet_slip", "Bet slip"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"  # waiting to be sent (again), from next_attempt_at
        SUBMITTED = "submitted", "Submitted"  # a signed transaction is out; waiting to be mined deep enough
        CONFIRMED = "confirmed", "Confirmed"  # mined with the configured confirmations
        FAILED = "failed", "Failed"  # given up; an operator may retry

    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.PENDING: frozenset({Status.SUBMITTED, Status.CONFIRMED, Status.FAILED}),
        # SUBMITTED -> SUBMITTED is a replacement at the same nonce; -> PENDING a dropped transaction.
        Status.SUBMITTED: frozenset({Status.SUBMITTED, Status.CONFIRMED, Status.PENDING, Status.FAILED}),
        Status.CONFIRMED: frozenset(),
        Status.FAILED: frozenset({Status.PENDING}),
    }

    subject_kind = models.CharField(max_length=32, choices=SubjectKind.choices, default=SubjectKind.BET_SLIP)
    subject_id = models.BigIntegerField(help_text="The bet slip's id (a plain number: the ledger knows no bets).")
    bet_hash = models.CharField(max_length=64, unique=True, help_text="SHA-256 of the slip id, hex.")
    win_amount = models.BigIntegerField(help_text="Minor units of the currency.")
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)

    network = models.CharField(max_length=32, blank=True)
    chain_id = models.BigIntegerField(null=True, blank=True)
    contract_address = models.CharField(max_length=42, blank=True)
    sender = models.CharField(max_length=42, blank=True)
    tx_hash = models.CharField(max_length=66, blank=True, db_index=True, help_text="The latest transaction sent.")
    tx_hashes = models.JSONField(default=list, blank=True, help_text="Every transaction sent at this nonce.")
    nonce = models.BigIntegerField(null=True, blank=True)
    max_fee_per_gas = models.BigIntegerField(null=True, blank=True)
    max_priority_fee_per_gas = models.BigIntegerField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    block_number = models.BigIntegerField(null=True, blank=True)
    block_timestamp = models.DateTimeField(null=True, blank=True)
    gas_used = models.BigIntegerField(null=True, blank=True)

    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["subject_kind", "subject_id"], name="chain_record_subject_unique"),
            models.CheckConstraint(condition=Q(win_amount__gt=0), name="chain_record_win_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | (~Q(tx_hash="") & Q(block_number__isnull=False)),
                name="chain_record_confirmed_has_block",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at", "id"], name="chain_record_due")]

    def __str__(self) -> str:
        return f"{self.subject_kind} {self.subject_id} ({self.status})"

    @classmethod
    def can_move(cls, old: str, new: str) -> bool:
        return new in cls.TRANSITIONS[old]


class ChainDeployment(models.Model):
    """Where BetLedger lives on each chain. A local chain may forget it (anvil restarts empty):
    the code at the address is checked before use and the contract deployed again if gone."""

    chain_id = models.BigIntegerField()
    network = models.CharField(max_length=32)
    address = models.CharField(max_length=42)
    tx_hash = models.CharField(max_length=66)
    block_number = models.BigIntegerField()
    deployer = models.CharField(max_length=42)
    recorder = models.CharField(max_length=42)
    bytecode_sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["chain_id", "address"], name="chain_deployment_unique")]

    def __str__(self) -> str:
        return f"BetLedger {self.address} on {self.network} ({self.chain_id})"
