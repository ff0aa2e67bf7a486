"""Airtime and data top-ups bought with the wallet, paid through Selcom.

Money: the amount is held (wallet -> `topup_clearing`, key `topup:<id>:hold`) and committed
before Selcom is called. A success leaves it in `topup_clearing`, where it stands for what we
owe Selcom for airtime delivered, until a treasury settlement with Selcom (outside this app)
clears it; so the clearing balance always equals the amounts of top-ups that are open or
succeeded. A failure returns it (`topup:<id>:refund`, the reversal of the hold) in the same
database transaction that marks the top-up failed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class TopUp(models.Model):
    class Status(models.TextChoices):
        HELD = "held", "Held"  # money held, request not sent yet
        SENDING = "sending", "Sending"  # claimed for the one and only send; request on the wire
        PROCESSING = "processing", "Processing"  # outcome unknown: queried every few minutes
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"  # always refunded, in the same database transaction

    # The allowed transitions. A payment request is sent only on HELD -> SENDING (a
    # compare-and-set), so it is sent at most once whatever retries or workers do.
    TRANSITIONS: dict[str, frozenset[str]] = {
        Status.HELD: frozenset({Status.SENDING, Status.FAILED}),
        Status.SENDING: frozenset({Status.SUCCEEDED, Status.FAILED, Status.PROCESSING}),
        Status.PROCESSING: frozenset({Status.SUCCEEDED, Status.FAILED}),
        Status.SUCCEEDED: frozenset(),
        Status.FAILED: frozenset(),
    }
    OPEN = frozenset({Status.HELD, Status.SENDING, Status.PROCESSING})

    class Kind(models.TextChoices):
        AIRTIME = "airtime", "Airtime"
        DATA = "data", "Data"

    class Carrier(models.TextChoices):
        MTN = "mtn", "MTN"
        AIRTEL = "airtel", "Airtel"
        GLO = "glo", "Glo"
        NINEMOBILE = "9mobile", "9mobile"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="topups")
    transid = models.CharField(max_length=40, unique=True, help_text="Our id for the payment at the provider.")
    client_key = models.CharField(max_length=255, help_text="The caller's Idempotency-Key.")
    phone = models.CharField(max_length=16, help_text="E.164")
    carrier = models.CharField(max_length=16, choices=Carrier.choices)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.AIRTIME)
    amount = models.BigIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=8, default="NGN")
    provider = models.CharField(max_length=32, default="selcom")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.HELD)

    provider_reference = models.CharField(max_length=128, blank=True)
    result_code = models.CharField(max_length=32, blank=True)
    message = models.CharField(max_length=255, blank=True)
    failure_code = models.CharField(max_length=64, blank=True)

    hold_transaction = models.ForeignKey(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refund_transaction = models.ForeignKey(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    queries = models.PositiveIntegerField(default=0, help_text="Status queries sent to the provider.")
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When the next status query is due.")
    flagged_at = models.DateTimeField(null=True, blank=True, help_text="When it was flagged for an operator.")
    flag_reason = models.CharField(max_length=255, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "client_key"], name="topup_user_client_key_unique"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="topup_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["held", "sending", "processing", "succeeded", "failed"]),
                name="topup_status_known",
            ),
            # A failed top-up has been refunded; nothing else has.
            models.CheckConstraint(
                condition=Q(status="failed", refund_transaction__isnull=False)
                | (~Q(status="failed") & Q(refund_transaction__isnull=True)),
                name="topup_refunded_iff_failed",
            ),
            models.CheckConstraint(
                condition=~Q(status="processing") | Q(next_attempt_at__isnull=False),
                name="topup_processing_has_next_attempt",
            ),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="processing"), name="topup_due_queries"),
            models.Index(fields=["status", "created_at"], name="topup_status_age"),
            models.Index(fields=["user", "-id"], name="topup_user_recent"),
        ]

    def __str__(self) -> str:
        return f"top-up {self.pk} {self.transid} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class TopUpEvent(models.Model):
    """What happened to a top-up, one row per provider call, callback or operator action."""

    class Kind(models.TextChoices):
        SEND = "send", "Send"
        QUERY = "query", "Query"
        CALLBACK = "callback", "Callback"
        OPERATOR = "operator", "Operator"
        SWEEP = "sweep", "Sweep"

    topup = models.ForeignKey(TopUp, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    outcome = models.CharField(max_length=32, blank=True)
    result_code = models.CharField(max_length=32, blank=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.CharField(max_length=255, blank=True)
    payload = models.JSONField(default=dict, blank=True, help_text="What the provider answered (never our request).")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.outcome} on top-up {self.topup_id}"
