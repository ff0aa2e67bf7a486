from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    """The first successful response to a money-moving POST, replayed for the same key.

    Written once the view has succeeded; requests with one key are serialised by an advisory
    lock (core.idempotency), so no row stands for a request still running.
    """

    scope = models.CharField(max_length=64, help_text="Whose key this is, e.g. user:42.")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=512)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.TextField(blank=True, help_text="The rendered JSON body, replayed byte for byte.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
