"""Checks on what comes from outside: Nigerian phone numbers and providers' HMAC signatures."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from core.errors import ApplicationError, DependencyDown, ValidationFailed

# Nigerian mobile numbers: +234, then a 10-digit national number starting 70, 71, 80, 81, 90 or
# 91 (0803 123 4567 is +2348031234567). Carriers are not told apart by prefix: numbers have been
# portable between carriers since 2013, so the caller names the carrier.
_NG_MOBILE = re.compile(r"^\+234[789][01][0-9]{8}$")


def ng_phone_validate(phone: object, *, field: str = "phone") -> str:
    """A Nigerian mobile number in E.164 (`+2348031234567`); anything else is a 400."""
    if not isinstance(phone, str) or not _NG_MOBILE.match(phone):
        raise ValidationFailed(
            "The phone must be a Nigerian mobile number in E.164 form, e.g. +2348031234567.",
            code="invalid_phone",
            details={"field": field},
        )
    return phone


def msisdn(phone: str) -> str:
    """The number as providers write it: E.164 without the plus."""
    return phone.removeprefix("+")


class SignatureInvalid(ApplicationError):
    status_code = 401
    code = "invalid_signature"


def signature_verify(
    *,
    secret: str,
    body: bytes,
    signature: str | None,
    digestmod: Callable[[], object],
    header: str,
) -> None:
    """Refuse a webhook whose header is not the HMAC of the raw body (hex or base64).

    Constant-time comparison. An unset secret refuses everything: there is no default secret.
    """
    if not secret:
        raise DependencyDown(f"{header} cannot be checked: the webhook secret is not configured.", code="webhook_off")
    if not signature:
        raise SignatureInvalid(f"The {header} header is missing.", code="missing_signature")
    expected = hmac.new(secret.encode(), body, digestmod).digest()  # type: ignore[arg-type]
    given = signature.strip()
    candidates: list[bytes] = []
    try:
        candidates.append(bytes.fromhex(given))
    except ValueError:
        pass
    try:
        candidates.append(base64.b64decode(given, validate=True))
    except (binascii.Error, ValueError):
        pass
    # Compare against every decoding (never short-circuit on the first), then decide.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate, expected)
    if not matched:
        raise SignatureInvalid(f"The {header} header does not match the body.")


SHA256 = hashlib.sha256
SHA512 = hashlib.sha512


@contextmanager
def refusals_counted(webhook: str) -> Iterator[None]:
    """Count every refusal of a provider's webhook by its error code, for monitoring."""
    from core.metrics import WEBHOOKS_REFUSED

    try:
        yield
    except ApplicationError as exc:
        WEBHOOKS_REFUSED.labels(webhook, exc.code).inc()
        raise
