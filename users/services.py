from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction

from core.errors import Conflict, ValidationFailed
from ledger.currencies import get_currency
from ledger.services import receivable_for, wallet_for
from users.models import User


def user_create(
    *,
    username: str,
    password: str,
    email: str | None = None,
    default_currency: str = "NGN",
    is_staff: bool = False,
) -> User:
    """Sign a user up with an empty wallet (and receivable) in their default currency."""
    get_currency(default_currency)
    candidate = User(username=username, email=email or None, default_currency=default_currency)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed(
            "The password is too weak.", code="weak_password", details={"password": list(exc.messages)}
        ) from None
    try:
        with transaction.atomic(durable=True):
            # Not create_user(): it would store a missing e-mail as "", which the unique
            # constraint would then allow only once.
            user = User(username=username, email=email or None, default_currency=default_currency, is_staff=is_staff)
            user.set_password(password)
            user.save()
            wallet_for(user_id=user.pk, currency=default_currency)
            receivable_for(user_id=user.pk, currency=default_currency)
    except IntegrityError:
        raise Conflict("That username or e-mail is taken.", code="user_exists") from None
    return user
