from __future__ import annotations

import itertools
import uuid
from typing import Any

import factory

from ledger.services import deposit_record
from users.models import User
from users.services import user_create

_seq = itertools.count(1)


class UserFactory(factory.django.DjangoModelFactory):  # type: ignore[misc]
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}-{uuid.uuid4().hex[:6]}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")


def make_user(*, username: str | None = None, currency: str = "NGN", is_staff: bool = False, **extra: Any) -> User:
    """A user made the way sign-up makes one (wallet and receivable included)."""
    name = username or f"user{next(_seq)}-{uuid.uuid4().hex[:6]}"
    user = user_create(
        username=name,
        password="a-long-test-password-1",
        email=f"{name}@example.com",
        default_currency=currency,
        is_staff=is_staff,
    )
    for key, value in extra.items():
        setattr(user, key, value)
    if extra:
        user.save()
    return user


def fund(user: User, amount: int, currency: str = "NGN", reference: str | None = None) -> int:
    tx = deposit_record(
        user_id=user.pk, currency=currency, amount=amount, provider="test", reference=reference or uuid.uuid4().hex
    )
    return int(tx.pk)
