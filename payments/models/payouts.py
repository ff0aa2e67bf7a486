"""Payouts: withdrawals paid to a payee's Stripe connected account in scheduled batches.

Money (ledger keys, see `payments/payouts/services.py`):
- `payout:<id>:hold`         wallet -> payout_clearing, committed before any Stripe call;
- `payout:<id>:paid`         payout_clearing -> bank_clearing (the money left the platform);
- `payout:<id>:paid:reverse` the reversal of `:paid` when a paid payout comes back;
- `payout:<id>:reverse`      the reversal of the hold: payout_clearing -> the user (receivable first).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now

from ledger.currencies import CURRENCY_CHOICES


class Payee(models.Model):
    """Where a user's withdrawals go: one Stripe connected account per user."""

    class Status(models.TextChoices):
        # ACTIVE -> FLAGGED (a permanent Stripe failure); FLAGGED -> ACTIVE (an operator fixed it).
        ACTIVE = "active", "Active"
        FLAGGED = "flagged", "Flagged"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payee")
    stripe_account_id = models.CharField(max_length=64, help_text="The Stripe connected account, acct_...")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    flag_code = models.CharField(max_length=64, blank=True)
    flag_reason = models.CharField(max_length=255, blank=True)
    flagged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.stripe_account_id} ({self.status})"


class Payout(models.Model):
    """One withdrawal and its way out through Stripe."""

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        PAID = "paid", "Paid"
        REVIEW = "review", "Needs review"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected"
        CANCELED = "canceled", "Canceled"

    # Allowed transitions; every change is a compare-and-set on the old status.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.AWAITING_APPROVAL: frozenset({Status.QUEUED, Status.REJECTED, Status.CANCELED}),
        # QUEUED -> PAID: a Stripe webhook can confirm a transfer whose answer we never got.
        Status.QUEUED: frozenset({Status.PROCESSING, Status.CANCELED, Status.PAID}),
        Status.PROCESSING: frozenset({Status.PAID, Status.QUEUED, Status.FAILED, Status.REVIEW}),
        # A paid payout can still fail (payout.failed, transfer.reversed): the money comes back.
        Status.PAID: frozenset({Status.FAILED}),
        Status.REVIEW: frozenset({Status.PAID, Status.FAILED}),
        Status.FAILED: frozenset(),
        Status.REJECTED: frozenset(),
        Status.CANCELED: frozenset(),
    }
    # Statuses whose money is still held in payout_clearing (or paid out): they count towards limits.
    LIVE = frozenset({Status.AWAITING_APPROVAL, Status.QUEUED, Status.PROCESSING, Status.REVIEW, Status.PAID})
    PENDING = frozenset({Status.AWAITING_APPROVAL, Status.QUEUED, Status.PROCESSING, Status.REVIEW})

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    payee = models.ForeignKey(Payee, on_delete=models.PROTECT, related_name="payouts")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.QUEUED)
    destination = models.CharField(
        max_length=64, blank=True, help_text="The connected account, fixed at the first attempt (retries reuse it)."
    )
    attempts = models.PositiveIntegerField(default=0, help_text="Stripe attempts started (claims).")
    max_retries = models.PositiveSmallIntegerField(default=3, help_text="Fixed by the run of the first attempt.")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(
        "payments.PayoutRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="payouts"
    )
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_message = models.CharField(max_length=500, blank=True)
    last_attempt_ms = models.PositiveIntegerField(null=True, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    stripe_transfer_id = models.CharField(max_length=64, blank=True, db_index=True)
    stripe_payout_id = models.CharField(max_length=64, blank=True)
    stripe_payout_status = models.CharField(max_length=16, blank=True)
    failed_after_paid = models.BooleanField(default=False)
    transfer_reversal_pending = models.BooleanField(
        default=False, help_text="The transfer must be reversed at Stripe to pull the money back."
    )
    stripe_reversal_id = models.CharField(max_length=64, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    decided_note = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=now, db_index=True)
    updated_at = models.DateTimeField(default=now)
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="payout_amount_positive")]
        indexes = [
            models.Index(fields=["next_attempt_at", "id"], condition=Q(status="queued"), name="payout_due_queue"),
            models.Index(fields=["user", "currency", "created_at"], name="payout_user_window"),
            models.Index(fields=["status", "updated_at"], name="payout_status_updated"),
        ]

    def __str__(self) -> str:
        return f"payout {self.pk} {self.amount} {self.currency} ({self.status})"

    @property
    def ledger_key(self) -> str:
        return f"payout:{self.pk}"


class PayoutRun(models.Model):
    """One batch run: what it paid, retried and failed, and how long it took."""

    class Status(models.TextChoices):
        # RUNNING -> COMPLETED | STOPPED (breaker open, time limit) | FAILED (crashed).
        RUNNING = "running", "Running"
        COMPLETED = "completed", "Completed"
        STOPPED = "stopped", "Stopped"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        CRON = "cron", "Cron endpoint"
        MANUAL = "manual", "Operator"
        COMMAND = "command", "manage.py run_payouts"
        RETRY = "retry", "Retry sweep"

    run_id = models.CharField(max_length=64, unique=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    schedule = models.ForeignKey(
        "payments.PayoutSchedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    batch_size = models.PositiveIntegerField()
    max_retries = models.PositiveIntegerField()
    concurrency = models.PositiveIntegerField()
    min_threshold = models.DecimalField(max_digits=20, decimal_places=6)
    total_payouts = models.PositiveIntegerField(default=0)
    successful_payouts = models.PositiveIntegerField(default=0)
    failed_payouts = models.PositiveIntegerField(default=0)
    retried_payouts = models.PositiveIntegerField(default=0)
    total_amount = models.JSONField(default=dict, blank=True, help_text="Paid per currency, minor units.")
    errors = models.JSONField(default=list, blank=True)
    stop_reason = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(default=now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    next_scheduled_at = models.DateTimeField(null=True, blank=True)
    correlation_id = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.run_id} ({self.status})"


class PayoutSchedule(models.Model):
    """When batch runs happen; written to django-celery-beat whenever it is saved."""

    class Frequency(models.TextChoices):
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        MONTHLY = "monthly", "Monthly"

    name = models.CharField(max_length=100, unique=True)
    enabled = models.BooleanField(default=True)
    frequency = models.CharField(max_length=16, choices=Frequency.choices, default=Frequency.DAILY)
    day_of_week = models.PositiveSmallIntegerField(null=True, blank=True, help_text="0 = Sunday ... 6 = Saturday.")
    day_of_month = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="1 to 31; past a month's end the run happens on its last day."
    )
    hour = models.PositiveSmallIntegerField(default=9)
    minute = models.PositiveSmallIntegerField(default=0)
    timezone = models.CharField(max_length=64, default="UTC")
    min_threshold = models.DecimalField(
        max_digits=20, decimal_places=6, default=25, help_text="In the currency's major unit."
    )
    batch_size = models.PositiveIntegerField(default=10)
    max_retries = models.PositiveIntegerField(default=3)
    notification_emails = models.JSONField(default=list, blank=True)
    last_slot_at = models.DateTimeField(null=True, blank=True, help_text="The last scheduled time that ran.")
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(hour__lte=23) & Q(minute__lte=59), name="payout_schedule_time"),
            models.CheckConstraint(
                condition=~Q(frequency="weekly") | Q(day_of_week__isnull=False, day_of_week__lte=6),
                name="payout_schedule_weekly_day",
            ),
            models.CheckConstraint(
                condition=~Q(frequency="monthly")
                | Q(day_of_month__isnull=False, day_of_month__gte=1, day_of_month__lte=31),
                name="payout_schedule_monthly_day",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PayoutAlertConfig(models.Model):
    """The alert thresholds and where alerts go (one row)."""

    enabled = models.BooleanField(default=True)
    failure_rate_threshold = models.DecimalField(max_digits=5, decimal_places=2, default=10, help_text="Percent.")
    pending_payout_threshold = models.PositiveIntegerField(default=50)
    processing_delay_threshold_hours = models.PositiveIntegerField(default=24)
    total_amount_threshold = models.DecimalField(
        max_digits=20, decimal_places=2, default=10000, help_text="A run's total, in the currency's major unit."
    )
    notification_emails = models.JSONField(default=list, blank=True)
    webhook_urls = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return "payout alert configuration"


class PayoutAlert(models.Model):
    """Something operators must know about the payouts, until someone resolves it."""

    class Type(models.TextChoices):
        FAILURE_RATE = "failure_rate", "Failure rate"
        PENDING_THRESHOLD = "pending_threshold", "Pending payouts"
        PROCESSING_DELAY = "processing_delay", "Processing delay"
        AMOUNT_THRESHOLD = "amount_threshold", "Run amount"
        SYSTEM_ERROR = "system_error", "System error"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        # OPEN -> ACKNOWLEDGED -> RESOLVED, or OPEN -> RESOLVED.
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        RESOLVED = "resolved", "Resolved"

    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.OPEN: frozenset({Status.ACKNOWLEDGED, Status.RESOLVED}),
        Status.ACKNOWLEDGED: frozenset({Status.RESOLVED}),
        Status.RESOLVED: frozenset(),
    }
    SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}

    type = models.CharField(max_length=32, choices=Type.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    dedupe_key = models.CharField(max_length=128, help_text="One unresolved alert per key; repeats count up.")
    message = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    run = models.ForeignKey(PayoutRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    created_at = models.DateTimeField(default=now, db_index=True)
    last_seen_at = models.DateTimeField(default=now)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    notify_errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"], condition=~Q(status="resolved"), name="payout_alert_one_unresolved"
            )
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.type}: {self.message[:60]}"


class StripeEvent(models.Model):
    """A Stripe webhook event, kept once per event id (Stripe delivers at least once)."""

    event_id = models.CharField(max_length=64, unique=True)
    type = models.CharField(max_length=64, db_index=True)
    account = models.CharField(max_length=64, blank=True)
    payload = models.JSONField()
    payout = models.ForeignKey(Payout, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    outcome = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(default=now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event_id} {self.type}"
