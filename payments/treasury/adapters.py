"""Virtual-account providers behind one interface: Wema (ALAT) and Paystack dedicated accounts.

Each adapter creates a static account for a user and turns its provider's signed deposit
notification into an `InboundDeposit`, checking the signature itself (each provider signs its
own way). The services never see a provider's format.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import structlog
from django.conf import settings
from django.utils.dateparse import parse_datetime

from core.errors import ApplicationError, ValidationFailed
from core.http import HttpClient
from ledger.currencies import MAX_AMOUNT

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class ProviderAccount:
    account_number: str
    account_name: str
    bank_name: str
    bank_code: str
    reference: str


@dataclass(frozen=True)
class InboundDeposit:
    account_number: str
    amount: int  # minor units
    currency: str
    reference: str  # the provider's unique id of the transfer: the de-duplication key
    sender_name: str = ""
    sender_account: str = ""
    sender_bank: str = ""
    narration: str = ""
    transaction_date: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)


class VirtualAccountProvider(Protocol):
    name: str

    def account_create(
        self, *, reference: str, bvn: str, first_name: str, last_name: str, phone: str, email: str
    ) -> ProviderAccount:
        """Create (or, for the same reference, return) the user's static account."""
        ...

    def deposit_parse(self, *, body: bytes, headers: Mapping[str, str]) -> InboundDeposit | None:
        """Verify and read a notification; None for a notification that is not a deposit."""
        ...

    def deposit_ack(self, *, reference: str, record_id: int, duplicate: bool) -> dict[str, Any]:
        """The body that tells the provider the notification was taken."""
        ...

    def close(self) -> None: ...


class ProviderRejected(ApplicationError):
    """The provider refused the request (its reason is passed on)."""

    status_code = 422
    code = "provider_rejected"


class ProviderBadResponse(ApplicationError):
    """The provider answered something we cannot use (nothing was saved)."""

    status_code = 502
    code = "provider_bad_response"


class LazyClient:
    """The HTTP client, made on first use: reading a webhook needs none (and making one costs)."""

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.client: HttpClient | None = None

    def get(self) -> HttpClient:
        if self.client is None:
            self.client = HttpClient(**self.kwargs)
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


# --- Reading notifications ----------------------------------------------------------------------

_MAJOR_AMOUNT = re.compile(r"^[0-9]{1,13}(\.[0-9]{1,2})?$")


def major_to_minor(value: object, *, field: str = "amount") -> int:
    """A naira amount (`"5000.00"`, `5000`, `5000.5`) as kobo, exactly; anything else is a 400."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise ValidationFailed(f"{field} must be a number of naira.", code="malformed_body", details={"field": field})
    text = str(value).strip()
    if not _MAJOR_AMOUNT.match(text):
        raise ValidationFailed(
            f"{field} must be a positive amount with at most 2 decimals.",
            code="malformed_body",
            details={"field": field},
        )
    try:
        minor = int(Decimal(text).scaleb(2))
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise ValidationFailed(f"{field} is not a number.", code="malformed_body") from None
    if minor <= 0 or minor > MAX_AMOUNT:
        raise ValidationFailed(f"{field} is out of range.", code="malformed_body", details={"field": field})
    return minor


def object_field(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def json_body(body: bytes) -> dict[str, Any]:
    try:
        # Decimals, never floats: an amount of 5000.10 stays exactly that.
        payload = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("The body is not JSON.", code="malformed_body") from None
    if not isinstance(payload, dict):
        raise ValidationFailed("The body must be a JSON object.", code="malformed_body")
    return payload


def text_field(payload: Mapping[str, Any], name: str, *, required: bool = False, max_length: int = 255) -> str:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"{name} is required.", code="malformed_body", details={"field": name})
        return ""
    if not isinstance(value, str) or len(value) > max_length:
        raise ValidationFailed(
            f"{name} must be a string of at most {max_length} characters.",
            code="malformed_body",
            details={"field": name},
        )
    return value.strip()


def account_number_field(payload: Mapping[str, Any], name: str) -> str:
    value = text_field(payload, name, required=True, max_length=10)
    if not re.fullmatch(r"[0-9]{10}", value):
        raise ValidationFailed(f"{name} must be 10 digits.", code="malformed_body", details={"field": name})
    return value


def date_field(payload: Mapping[str, Any], name: str) -> datetime | None:
    raw = text_field(payload, name, max_length=64)
    if not raw:
        return None
    parsed = parse_datetime(raw.replace(" ", "T", 1))
    if parsed is None:
        raise ValidationFailed(f"{name} is not an ISO-8601 date.", code="malformed_body", details={"field": name})
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as stored: Decimals as strings (they were parsed exactly, never as floats)."""
    return json.loads(json.dumps(payload, default=str))


# --- Choosing ------------------------------------------------------------------------------------

PROVIDERS = ("wema", "paystack")


def treasury_provider(name: str | None = None) -> VirtualAccountProvider:
    """The named provider, or the configured one (`TREASURY_PROVIDER`) for new accounts."""
    from payments.treasury.paystack import PaystackAdapter
    from payments.treasury.wema import WemaAdapter

    name = name or settings.TREASURY_PROVIDER
    if name == "wema":
        return WemaAdapter(
            base_url=settings.WEMA_BASE_URL,
            subscription_key=settings.WEMA_SUBSCRIPTION_KEY,
            api_key=settings.WEMA_API_KEY,
            webhook_secret=settings.WEMA_WEBHOOK_SECRET,
            timeout_s=settings.WEMA_TIMEOUT_S,
        )
    if name == "paystack":
        return PaystackAdapter(
            base_url=settings.PAYSTACK_BASE_URL,
            secret_key=settings.PAYSTACK_SECRET_KEY,
            timeout_s=settings.WEMA_TIMEOUT_S,
        )
    raise ValueError(f"unknown treasury provider {name!r}")
