"""Settlement's own records: each run, what has been graded and settled per event, the operators'
void windows, and the signed result pushes received."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from betting.models import Event, Market


class SettlementRun(models.Model):
    """One settlement run, whoever started it. Failed runs are retried (2, 4, 8 s), then stay
    FAILED for an operator to see."""

    class Trigger(models.TextChoices):
        BEAT = "beat", "Beat (sync-and-settle)"
        WEBHOOK = "webhook", "Signed result webhook"
        CRON = "cron", "Cron endpoint"
        COMMAND = "command", "manage.py settle_bets"
        ADMIN = "admin", "Admin: settle now"
        RESULT = "result", "Result recorded (feed or operator)"
        VOID = "void", "Operator void window"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        RETRYING = "retrying", "Waiting to retry"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        Status.QUEUED: frozenset({Status.RUNNING, Status.FAILED}),
        Status.RUNNING: frozenset({Status.SUCCEEDED, Status.RETRYING, Status.FAILED}),
        Status.RETRYING: frozenset({Status.RUNNING, Status.FAILED}),
        Status.SUCCEEDED: frozenset(),
        Status.FAILED: frozenset(),
    }
    OPEN_STATUSES = frozenset({Status.QUEUED, Status.RUNNING, Status.RETRYING})

    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    dry_run = models.BooleanField(default=False)
    sync_feed = models.BooleanField(default=False, help_text="Pull results from the feed before settling.")
    target_event = models.ForeignKey(
        Event,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="+",
        help_text="Only this event; empty: every event with settlement due.",
    )
    requested_by = models.CharField(max_length=128, blank=True)
    correlation_id = models.CharField(max_length=128, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    events = models.PositiveIntegerField(default=0, help_text="Events processed.")
    event_ids = models.JSONField(default=list, blank=True)
    slips_settled = models.PositiveIntegerField(default=0)
    slips_resettled = models.PositiveIntegerField(default=0)
    selections_graded = models.PositiveIntegerField(default=0, help_text="Selections whose grade was written.")
    money = models.JSONField(
        default=dict, blank=True, help_text='Per currency, minor units: {"NGN": {"stake": .., "payout": ..}}.'
    )
    errors = models.JSONField(default=list, blank=True)
    summary = models.JSONField(default=dict, blank=True, help_text="Per event: what was done (or would be).")

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="Last progress of a running run.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="settlement_run_due"),
            models.Index(fields=["created_at"], name="settlement_run_created"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} {self.trigger} {self.status}"

    @classmethod
    def can_transition(cls, old: str, new: str) -> bool:
        return new in cls.TRANSITIONS.get(old, frozenset())

    @property
    def duration_ms(self) -> int | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return int((self.finished_at - self.started_at).total_seconds() * 1000)


class EventSettlement(models.Model):
    """What settlement has made of one event: the state its grades reflect, and whether its slips
    still need a pass. Written under the event's advisory lock.

    `generation` goes up whenever the event's slips must be (re)visited (new grades, a void
    window); a completed pass records the generation it saw in `settled_generation`, so an event
    whose pass was interrupted (a killed worker) is picked up again by the next run.
    """

    event = models.OneToOneField(Event, primary_key=True, on_delete=models.CASCADE, related_name="settlement")
    handled_status = models.CharField(max_length=16, blank=True, help_text="The event status last looked at.")
    handled_version = models.PositiveIntegerField(default=0, help_text="The result version last looked at.")
    graded_version = models.PositiveIntegerField(default=0, help_text="The result version the grades reflect.")
    first_graded_at = models.DateTimeField(
        null=True, blank=True, help_text="First final result graded: the resettlement window runs from here."
    )
    ignored_version = models.PositiveIntegerField(
        default=0, help_text="The last correction ignored because it came after the resettlement window."
    )
    generation = models.PositiveIntegerField(default=0)
    settled_generation = models.PositiveIntegerField(default=0)
    resettle = models.BooleanField(
        default=False, help_text="The outstanding pass revisits settled slips (a correction or a void window)."
    )
    last_settled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["event"], condition=Q(generation__gt=F("settled_generation")), name="event_pass_due")
        ]

    def __str__(self) -> str:
        return f"settlement of event {self.event_id} (generation {self.generation})"


class MarketVoidWindow(models.Model):
    """An operator's decision: the bets on `market` accepted at `start <= accepted_at < end` are
    void. Settlement voids those legs (pending slips) and resettles settled slips inside
    RESETTLE_WINDOW_HOURS of the event's first settlement."""

    market = models.ForeignKey(Market, on_delete=models.PROTECT, related_name="void_windows")
    start = models.DateTimeField()
    end = models.DateTimeField()
    reason = models.CharField(max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["market", "start", "end"], name="void_window_market_span_unique"),
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="void_window_start_before_end"),
        ]

    def __str__(self) -> str:
        return f"void bets on market {self.market_id} from {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"


class ResultPush(models.Model):
    """A signed result push accepted by `POST /api/settlement/webhook`. The digest of the signed
    payload is unique, so a replayed request is recognised and does nothing."""

    digest = models.CharField(max_length=64, unique=True, help_text="SHA-256 of timestamp.body.")
    signed_at = models.DateTimeField(help_text="The timestamp the sender signed.")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    event = models.ForeignKey(Event, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    body = models.JSONField()
    result_changed = models.BooleanField(default=False)
    run = models.ForeignKey(SettlementRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"result push {self.pk} for event {self.event_id}"
