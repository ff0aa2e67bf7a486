"""Cashout offers and auto-cashout targets.

An offer is priced by the server and lives CASHOUT_OFFER_TTL_S; the client only ever names it by
id. At most one offer per slip is open at a time (a new one supersedes the last), which the
database enforces. Foreign keys to the sportsbook are by name, so importing these models (the
outbox does) imports no other app.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from ledger.currencies import CURRENCY_CHOICES


class _Transitions:
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {}

    @classmethod
    def can_transition(cls, old: str, new: str) -> bool:
        return new in cls.TRANSITIONS.get(old, frozenset())


class CashoutOffer(_Transitions, models.Model):
    class Status(models.TextChoices):
        OFFERED = "offered", "Offered"
        ACCEPTED = "accepted", "Accepted"  # paid: `transaction` holds the ledger entry
        EXPIRED = "expired", "Expired"  # not accepted within its time
        SUPERSEDED = "superseded", "Superseded"  # a newer offer for the slip replaced it
        REFUSED = "refused", "Refused"  # accepting it was refused: price fell, leg lost, slip settled

    TRANSITIONS = {
        Status.OFFERED: frozenset({Status.ACCEPTED, Status.EXPIRED, Status.SUPERSEDED, Status.REFUSED}),
        Status.ACCEPTED: frozenset(),
        Status.EXPIRED: frozenset(),
        Status.SUPERSEDED: frozenset(),
        Status.REFUSED: frozenset(),
    }

    class Source(models.TextChoices):
        PLAYER = "player", "Asked by the player"
        AUTO = "auto", "Auto-cashout target reached"

    slip = models.ForeignKey("betting.BetSlip", on_delete=models.PROTECT, related_name="cashout_offers")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    fraction = models.DecimalField(
        max_digits=5, decimal_places=4, default=1, help_text="Part of the slip cashed out; 1 is the whole slip."
    )
    stake = models.BigIntegerField(help_text="The slip's stake when priced (minor units).")
    stake_cashed = models.BigIntegerField(help_text="Stake that leaves escrow if accepted.")
    value = models.BigIntegerField(help_text="The whole slip's offer when priced; `amount` derives from it.")
    amount = models.BigIntegerField(help_text="Paid to the player if accepted (minor units).")
    margin_bps = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OFFERED)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.PLAYER)
    reason = models.CharField(max_length=64, blank=True, help_text="Why it was refused or expired.")
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    transaction = models.ForeignKey(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["slip"], condition=Q(status="offered"), name="cashout_offer_one_open_per_slip"
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="cashout_offer_amount_positive"),
            models.CheckConstraint(
                condition=Q(fraction__gt=0) & Q(fraction__lte=1), name="cashout_offer_fraction_range"
            ),
            models.CheckConstraint(
                condition=Q(stake_cashed__gt=0) & Q(stake_cashed__lte=F("stake")), name="cashout_offer_stake_cashed"
            ),
            models.CheckConstraint(
                condition=Q(status="accepted", transaction__isnull=False) | ~Q(status="accepted"),
                name="cashout_offer_accepted_is_paid",
            ),
        ]
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(status="offered"), name="cashout_offer_open_expiry"),
            models.Index(fields=["user", "id"], name="cashout_offer_user"),
        ]

    def __str__(self) -> str:
        return f"offer {self.pk} on slip {self.slip_id}: {self.amount} {self.currency} {self.status}"

    @property
    def partial(self) -> bool:
        return self.fraction < 1


class AutoCashout(_Transitions, models.Model):
    """A player's target: when a re-price offers at least `target` for the whole slip, it is
    cashed out. A partial cashout scales the target with the stake."""

    class Status(models.TextChoices):
        ARMED = "armed", "Armed"
        EXECUTED = "executed", "Executed"
        CLEARED = "cleared", "Cleared by the player"
        LAPSED = "lapsed", "Lapsed (the slip settled or was cashed out)"

    TRANSITIONS = {
        Status.ARMED: frozenset({Status.ARMED, Status.EXECUTED, Status.CLEARED, Status.LAPSED}),
        Status.CLEARED: frozenset({Status.ARMED, Status.CLEARED, Status.LAPSED}),
        Status.EXECUTED: frozenset(),
        Status.LAPSED: frozenset(),
    }

    slip = models.OneToOneField("betting.BetSlip", on_delete=models.PROTECT, related_name="auto_cashout")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=8, choices=CURRENCY_CHOICES)
    target = models.BigIntegerField(help_text="Whole-slip offer (minor units) at or above which to cash out.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ARMED)
    offer = models.ForeignKey(
        CashoutOffer, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="What executed it."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [models.CheckConstraint(condition=Q(target__gt=0), name="auto_cashout_target_positive")]
        indexes = [models.Index(fields=["slip"], condition=Q(status="armed"), name="auto_cashout_armed")]

    def __str__(self) -> str:
        return f"auto-cashout of slip {self.slip_id} at {self.target} {self.currency} ({self.status})"
