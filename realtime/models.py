from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxEvent(models.Model):
    """An event the outside must hear, written in the same transaction as the change it reports.

    The relay publishes unpublished rows after commit and marks them; `seq` (the primary key)
    lets a reconnecting client ask for what it missed, and `event_id` lets it drop duplicates.

    A relay claims rows (`SELECT ... FOR UPDATE SKIP LOCKED`, then a lease) in a short transaction,
    publishes outside any transaction, and marks them published by compare-and-set on its claim.
    `claimed_at` (the first claim, database clock) and `published_at` are what resume reasons
    with: see `realtime.selectors.events_missed`.
    """

    seq = models.BigAutoField(primary_key=True)
    # 128 random bits (`realtime.outbox.new_event_id`): unique without an index to keep so, and
    # nothing looks an event up by it (clients drop duplicates with it; resume goes by `seq`).
    event_id = models.CharField(max_length=40)
    type = models.CharField(max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,  # `outbox_user_seq` leads with the user
        help_text="Whose event this is; empty for a broadcast.",
    )
    topic = models.CharField(max_length=128, blank=True, help_text="A broadcast group, e.g. round:20261121.")
    data = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a relay first claimed the row.")
    claim_id = models.UUIDField(null=True, blank=True, help_text="The relay batch that holds (or last held) it.")
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text="Another relay may take the row over after this (a crashed relay)."
    )

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["seq"], condition=Q(published_at__isnull=True), name="outbox_unpublished"),
            models.Index(fields=["user", "seq"], name="outbox_user_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.seq} {self.type}"


# Registered with the app here; defined beside the cashout services.
from realtime.cashout.models import AutoCashout, CashoutOffer  # noqa: E402

__all__ = ["AutoCashout", "CashoutOffer", "OutboxEvent"]
