"""Up/Down daily rounds: one pool per NYSE trading day on whether an asset closes up or down.

The rules are in RULES.md ("Up/Down daily rounds"). A round is OPEN until its lock time, then
LOCKED; once its result is decided (from the oracle, an operator, or a void) the stakes are paid
out in chunks and the round ends SETTLED or VOID. While the payout runs the round stays LOCKED
with its `result` set, so an interrupted settlement is simply resumed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ledger.currencies import CURRENCY_CHOICES

# Prices as the sources give them: Chainlink answers carry up to 18 decimals.
PRICE_MAX_DIGITS = 38
PRICE_DECIMALS = 18


class Side(models.TextChoices):
    UP = "UP", "Up"
    DOWN = "DOWN", "Down"


class Round(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        LOCKED = "locked", "Locked"
        SETTLED = "settled", "Settled"
        VOID = "void", "Void"

    # Allowed transitions. An open round is voided by locking it first, so that no bet can slip
    # in while its refunds are paid.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.OPEN: frozenset({Status.LOCKED}),
        Status.LOCKED: frozenset({Status.SETTLED, Status.VOID}),
        Status.SETTLED: frozenset(),
        Status.VOID: frozenset(),
    }

    class Result(models.TextChoices):
        UP = "UP", "Up"
        DOWN = "DOWN", "Down"
        VOID = "VOID", "Void"

    class VoidReason(models.TextChoices):
        ONE_SIDED = "one_sided", "One side has no stake"
        ORACLE_SILENT = "oracle_silent", "No price within the grace period"
        OPERATOR = "operator", "Voided by an operator"

    code = models.CharField(max_length=8, unique=True, help_text="YYYYMMDD, the closing date in America/New_York.")
    trading_date = models.DateField(unique=True)
    asset = models.CharField(max_length=32)
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)

    # The exchange clock (stored in UTC, shown in America/New_York).
    open_at = models.DateTimeField(help_text="The session's opening bell.")
    lock_at = models.DateTimeField(help_text="No bet at or after this instant: close - 1 s.")
    close_at = models.DateTimeField()
    settle_at = models.DateTimeField(help_text="close + CLOSE_FETCH_DELAY_MIN: the first settlement attempt.")
    void_after = models.DateTimeField(help_text="settle_at + SETTLE_GRACE_MIN: oracle still silent means VOID.")
    early_close = models.BooleanField(default=False)

    reference_date = models.DateField(help_text="The previous trading day, whose close is the reference.")
    reference_price = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMALS, null=True, blank=True
    )
    reference_source = models.CharField(max_length=64, blank=True)
    closing_price = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMALS, null=True, blank=True
    )
    closing_source = models.CharField(max_length=64, blank=True)

    result = models.CharField(max_length=8, choices=Result.choices, blank=True)
    void_reason = models.CharField(max_length=32, choices=VoidReason.choices, blank=True)
    decided_by = models.CharField(max_length=150, blank=True, help_text="oracle, or the operator who decided.")

    # Pools: a snapshot taken when the round locks (the stakes cannot change after that).
    up_pool = models.BigIntegerField(default=0)
    down_pool = models.BigIntegerField(default=0)
    up_bets = models.PositiveIntegerField(default=0)
    down_bets = models.PositiveIntegerField(default=0)
    fee = models.BigIntegerField(default=0)
    dust = models.BigIntegerField(default=0)
    paid_out = models.BigIntegerField(default=0)

    settle_attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    created_at = models.DateTimeField(default=timezone.now)
    locked_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-trading_date"]
        constraints = [
            models.CheckConstraint(condition=Q(lock_at__lt=models.F("close_at")), name="round_lock_before_close"),
            models.CheckConstraint(
                condition=~Q(status__in=["settled", "void"]) | ~Q(result=""), name="round_finished_has_result"
            ),
            models.CheckConstraint(
                condition=Q(up_pool__gte=0, down_pool__gte=0, fee__gte=0, dust__gte=0, paid_out__gte=0),
                name="round_amounts_non_negative",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="round_due")]

    def __str__(self) -> str:
        return f"round {self.code} {self.asset} ({self.status})"

    @property
    def total_pool(self) -> int:
        return self.up_pool + self.down_pool


class RoundBet(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        WON = "won", "Won"
        LOST = "lost", "Lost"
        REFUNDED = "refunded", "Refunded"

    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.PENDING: frozenset({Status.WON, Status.LOST, Status.REFUNDED}),
        Status.WON: frozenset(),
        Status.LOST: frozenset(),
        Status.REFUNDED: frozenset(),
    }

    # No index of their own on the foreign keys: the composite indexes below lead with them, and
    # every index costs the settlement's UPDATE of 100,000 rows.
    round = models.ForeignKey(Round, on_delete=models.PROTECT, related_name="bets", db_index=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="round_bets", db_index=False
    )
    side = models.CharField(max_length=4, choices=Side.choices)
    amount = models.BigIntegerField(help_text="The stake, in the round's currency's minor unit.")
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    payout = models.BigIntegerField(default=0, help_text="What settlement paid back: stake + share, or the refund.")
    idempotency_key = models.CharField(max_length=255, help_text="The caller's key: one bet per user and key.")
    # Ledger transactions; no database constraint (a per-row check would cost settlement dearly).
    stake_transaction = models.ForeignKey(
        "ledger.Transaction",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        related_name="+",
    )
    payout_transaction = models.ForeignKey(
        "ledger.Transaction",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        null=True,
        blank=True,
        related_name="+",
    )
    placed_at = models.DateTimeField(default=timezone.now)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="roundbet_user_key_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="roundbet_amount_positive"),
            models.CheckConstraint(condition=Q(payout__gte=0), name="roundbet_payout_non_negative"),
        ]
        indexes = [
            # Settlement walks a round's bets of one side player by player (one balance event per
            # player and chunk); pools sum the amounts (an index-only scan). The status is left
            # out so that settling a bet changes no key here.
            models.Index(fields=["round", "side", "user", "id"], include=["amount"], name="roundbet_round_side"),
            models.Index(fields=["round", "user"], name="roundbet_round_user"),
        ]

    def __str__(self) -> str:
        return f"bet {self.pk} {self.side} {self.amount} {self.currency} on round {self.round_id}"


class PriceFetch(models.Model):
    """What one oracle call returned (or why it failed): the audit trail of every price."""

    class Outcome(models.TextChoices):
        OK = "ok", "OK"
        NOT_AVAILABLE = "not_available", "Not published yet"
        TIMEOUT = "timeout", "Timed out"
        UNAVAILABLE = "unavailable", "Unreachable or failing"
        MALFORMED = "malformed", "Malformed answer"
        STALE = "stale", "Stale answer"
        INVALID = "invalid", "Invalid answer"
        UNSUPPORTED = "unsupported", "Not supported by this oracle"
        MISCONFIGURED = "misconfigured", "Oracle not configured"

    round = models.ForeignKey(Round, null=True, blank=True, on_delete=models.PROTECT, related_name="price_fetches")
    purpose = models.CharField(max_length=16, help_text="reference or close")
    oracle = models.CharField(max_length=32)
    asset = models.CharField(max_length=32)
    session_date = models.DateField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    price = models.DecimalField(max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMALS, null=True, blank=True)
    as_of = models.DateTimeField(null=True, blank=True, help_text="When the source says the price was set.")
    message = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True, help_text="Status, body excerpt, chain round data...")
    elapsed_ms = models.FloatField(default=0)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.oracle} {self.asset} {self.session_date}: {self.outcome}"


class ManualPrice(models.Model):
    """An official close entered by an operator; it wins over the configured oracle."""

    asset = models.CharField(max_length=32)
    session_date = models.DateField()
    price = models.DecimalField(max_digits=PRICE_MAX_DIGITS, decimal_places=PRICE_DECIMALS)
    entered_by = models.CharField(max_length=150)
    note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-session_date"]
        constraints = [
            models.UniqueConstraint(fields=["asset", "session_date"], name="manualprice_asset_date_unique"),
            models.CheckConstraint(condition=Q(price__gt=0), name="manualprice_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.asset} {self.session_date} = {self.price}"
