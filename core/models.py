from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    """The first successful response to a money-moving POST, replayed for the same key."""

    class Status(models.TextChoices):
        # STARTED -> COMPLETED; a STARTED row left by a crash is retried by the next request.
        STARTED = "started", "Started"
        COMPLETED = "completed", "Completed"

    scope = models.CharField(max_length=64, help_text="Whose key this is, e.g. user:42.")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    request_hash = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.STARTED)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The rendered JSON body, replayed byte for byte.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} ({self.status})"
