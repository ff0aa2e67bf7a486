"""Bet slips and their legs, with the counters placement checks its limits against.

A slip's stake moves wallet -> bets_escrow in the transaction that creates it (ledger key
`bet:place:<slip id>`). Settlement later grades the legs' selections and settles the slip
(`bet:settle:<slip id>:v<settlement_version>`).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from betting.models.catalogue import Event, Selection, Transitions
from ledger.currencies import CURRENCIES, CURRENCY_CHOICES


class BetSlip(Transitions, models.Model):
    class Type(models.TextChoices):
        SINGLE = "single", "Single"
        PARLAY = "parlay", "Parlay"
        SYSTEM = "system", "System"

    class Status(models.TextChoices):
        AWAITING = "awaiting", "Awaiting acceptance"  # a live bet inside its delay; stake held
        PENDING = "pending", "Pending"  # accepted, waiting for results
        WON = "won", "Won"
        LOST = "lost", "Lost"
        VOID = "void", "Void"
        CASHED_OUT = "cashed_out", "Cashed out"
        REJECTED = "rejected", "Rejected"  # a live bet refused after its delay; stake returned

    # Settled statuses may change among themselves when a corrected result resettles the slip.
    TRANSITIONS = {
        Status.AWAITING: frozenset({Status.PENDING, Status.REJECTED}),
        Status.PENDING: frozenset({Status.WON, Status.LOST, Status.VOID, Status.CASHED_OUT}),
        Status.WON: frozenset({Status.WON, Status.LOST, Status.VOID}),
        Status.LOST: frozenset({Status.WON, Status.LOST, Status.VOID}),
        Status.VOID: frozenset({Status.WON, Status.LOST, Status.VOID}),
        Status.CASHED_OUT: frozenset(),
        Status.REJECTED: frozenset(),
    }
    SETTLED_STATUSES = frozenset({Status.WON, Status.LOST, Status.VOID})

    class AcceptOdds(models.TextChoices):
        EXACT = "exact", "Only the odds sent"
        BETTER = "better", "The odds sent or better"
        ANY = "any", "Any odds"

    # No index of its own: `slip_user_status` and `slip_user_client_key_unique` lead with the user
    # (a third would only cost every settlement's update of the slip another index write).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bet_slips", db_index=False
    )
    type = models.CharField(max_length=8, choices=Type.choices)
    system_k = models.PositiveSmallIntegerField(null=True, blank=True, help_text="System k/n: legs per line.")
    system_n = models.PositiveSmallIntegerField(null=True, blank=True, help_text="System k/n: legs in the slip.")
    stake = models.BigIntegerField(help_text="Minor units.")
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    potential_payout = models.BigIntegerField(help_text="What the slip pays if every leg wins (minor units).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    payout = models.BigIntegerField(null=True, blank=True, help_text="Set by settlement (minor units).")
    settlement_version = models.PositiveIntegerField(default=0)
    settled_at = models.DateTimeField(null=True, blank=True)
    placed_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accept_after = models.DateTimeField(
        null=True, blank=True, help_text="Live bets: re-validated and accepted or rejected from this time."
    )
    client_key = models.CharField(max_length=255, help_text="The client's Idempotency-Key; unique per user.")
    accept_odds = models.CharField(max_length=8, choices=AcceptOdds.choices, default=AcceptOdds.BETTER)
    live = models.BooleanField(default=False, help_text="At least one leg was on an event in play.")
    reject_reason = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "client_key"], name="slip_user_client_key_unique"),
            models.CheckConstraint(condition=Q(stake__gt=0), name="slip_stake_positive"),
            models.CheckConstraint(condition=Q(potential_payout__gte=F("stake")), name="slip_payout_covers_stake"),
            models.CheckConstraint(
                condition=Q(payout__isnull=True) | Q(payout__gte=0), name="slip_payout_non_negative"
            ),
            models.CheckConstraint(
                condition=(Q(type="system") & Q(system_k__gte=1) & Q(system_n__gt=F("system_k")))
                | (~Q(type="system") & Q(system_k__isnull=True) & Q(system_n__isnull=True)),
                name="slip_system_k_of_n",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "status", "id"], name="slip_user_status"),
            models.Index(fields=["accept_after"], condition=Q(status="awaiting"), name="slip_awaiting_due"),
            # Settlement's backlog (pending slips) and the big wins the chain records.
            models.Index(fields=["id"], condition=Q(status="pending"), name="slip_pending"),
            models.Index(fields=["currency", "payout"], condition=Q(status="won"), name="slip_won_payout"),
        ]

    def __str__(self) -> str:
        return f"slip {self.pk} {self.type} {self.stake} {self.currency} {self.status}"

    @property
    def system_label(self) -> str | None:
        return f"{self.system_k}/{self.system_n}" if self.type == self.Type.SYSTEM else None


class BetLeg(models.Model):
    # The slip has an index of its own although leg_one_per_event (slip, event) leads with it:
    # given only the wider one, PostgreSQL reads a settlement chunk's legs (2,000 slips) by scanning
    # the whole table, 2-3 times slower already at 170,000 legs. The selection has none:
    # leg_selection_slip (selection, slip) serves it, and every leg placed writes each index.
    slip = models.ForeignKey(BetSlip, on_delete=models.CASCADE, related_name="legs")
    selection = models.ForeignKey(Selection, on_delete=models.PROTECT, related_name="legs", db_index=False)
    # Denormalised from selection -> market -> event: the database refuses two legs of one slip
    # on one event, and settlement finds an event's slips without joining the catalogue.
    event = models.ForeignKey(Event, on_delete=models.PROTECT, related_name="+")
    odds_placed = models.DecimalField(max_digits=10, decimal_places=4)
    odds_requested = models.DecimalField(
        max_digits=10, decimal_places=4, null=True, blank=True, help_text="What the client saw."
    )
    live = models.BooleanField(default=False, help_text="The event was in play when the leg was placed.")

    class Meta:
        ordering = ["slip_id", "id"]
        constraints = [
            models.UniqueConstraint(fields=["slip", "event"], name="leg_one_per_event"),
            models.CheckConstraint(condition=Q(odds_placed__gt=1), name="leg_odds_above_one"),
        ]
        indexes = [models.Index(fields=["selection", "slip"], name="leg_selection_slip")]

    def __str__(self) -> str:
        return f"leg {self.pk} of slip {self.slip_id}: selection {self.selection_id} @ {self.odds_placed}"


class SelectionLiability(models.Model):
    """What the house stands to lose on a selection, per currency: the sum over its open slips
    of potential payout minus stake. One row per selection and currency, moved by a conditional
    UPDATE that refuses to pass the cap, so only bets on the same selection wait for each other."""

    # The unique (selection, currency) index serves lookups by selection.
    selection = models.ForeignKey(Selection, on_delete=models.CASCADE, related_name="liabilities", db_index=False)
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    amount = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["selection", "currency"], name="liability_selection_currency_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="liability_non_negative"),
        ]

    def __str__(self) -> str:
        return f"liability {self.amount} {self.currency} on selection {self.selection_id}"


class PlayerLimits(models.Model):
    """A player's own limits: self-exclusion and daily stake limits tighter than the house's."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="betting_limits"
    )
    self_excluded_until = models.DateTimeField(null=True, blank=True)
    daily_stake_limits = models.JSONField(
        default=dict, blank=True, help_text='Per currency, minor units: {"NGN": 500000}.'
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "player limits"

    def __str__(self) -> str:
        return f"limits of user {self.user_id}"

    def clean(self) -> None:
        """What the admin form checks: placement reads these numbers on every bet."""
        limits = self.daily_stake_limits
        if not isinstance(limits, dict) or not all(
            currency in CURRENCIES and isinstance(amount, int) and not isinstance(amount, bool) and amount >= 0
            for currency, amount in limits.items()
        ):
            raise ValidationError({"daily_stake_limits": 'Whole minor units per known currency, e.g. {"NGN": 500000}.'})


class DailyStake(models.Model):
    """Stakes a user placed on one day (UTC) in one currency, for the daily stake limit."""

    # The unique (user, currency, day) index serves lookups by user.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    day = models.DateField()
    amount = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "currency", "day"], name="daily_stake_user_currency_day_unique"),
            models.CheckConstraint(condition=Q(amount__gte=0), name="daily_stake_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} staked by user {self.user_id} on {self.day}"
