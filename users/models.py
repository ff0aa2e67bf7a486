from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A player or an operator (`is_staff`). Money lives in ledger accounts, not here."""

    email = models.EmailField(unique=True, null=True, blank=True)  # type: ignore[assignment]
    default_currency = models.CharField(max_length=8, default="NGN")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.username
