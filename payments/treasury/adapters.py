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

from core.errors import ApplicationError, DependencyDown, ValidationFailed
from core.http import HttpClient
from ledger.currencies import MAX_AMOUNT
from payments.topup.inbound import SHA512, signature_verify
from payments.treasury.nuban import WEMA_BANK_CODE

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


class _LazyClient:
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


def _object(value: object) -> dict[str, Any]:
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


# --- Wema (ALAT) --------------------------------------------------------------------------------


class WemaAdapter:
    """Wema Bank's virtual accounts. Its API is not publicly documented: the create call follows
    the original design (`POST /v1/virtual-accounts`, camelCase fields, our `reference` making it
    repeatable); notifications come in the original design's form or ALAT's (see PROVIDERS.md)."""

    name = "wema"

    def __init__(
        self, *, base_url: str, subscription_key: str, api_key: str, webhook_secret: str, timeout_s: float
    ) -> None:
        self.webhook_secret = webhook_secret
        self._client = _LazyClient(
            service="wema",
            base_url=base_url,
            timeout_s=timeout_s,
            headers={"Ocp-Apim-Subscription-Key": subscription_key, "x-api-key": api_key},
        )

    @property
    def http(self) -> HttpClient:
        return self._client.get()

    def close(self) -> None:
        self._client.close()

    def account_create(
        self, *, reference: str, bvn: str, first_name: str, last_name: str, phone: str, email: str
    ) -> ProviderAccount:
        # Retries are safe: the same reference returns the same account.
        response = self.http.request(
            "POST",
            "/v1/virtual-accounts",
            json={
                "reference": reference,
                "bvn": bvn,
                "firstName": first_name,
                "lastName": last_name,
                "phoneNumber": phone,
                "email": email,
            },
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.status_code in (401, 403):
            # Our keys are wrong: nothing the user can change, so not their error to read.
            log.error("wema.auth_refused", status=response.status_code)
            raise DependencyDown("The bank refused our credentials.", code="provider_auth_failed")
        if response.status_code >= 500 or not isinstance(body, dict):
            raise ProviderBadResponse(f"Wema answered HTTP {response.status_code}.")
        if response.status_code >= 400:
            raise ProviderRejected(
                str(body.get("message") or "Wema refused to create the account."),
                details={"provider_code": str(body.get("code") or response.status_code)},
            )
        data = _object(body.get("data")) or body
        number = data.get("accountNumber")
        if not isinstance(number, str):
            raise ProviderBadResponse("Wema returned no account number.")
        return ProviderAccount(
            account_number=number,
            account_name=str(data.get("accountName") or f"{first_name} {last_name}".upper())[:255],
            bank_name=str(data.get("bankName") or "Wema Bank")[:128],
            bank_code=str(data.get("bankCode") or WEMA_BANK_CODE),
            reference=str(data.get("reference") or reference)[:128],
        )

    def deposit_parse(self, *, body: bytes, headers: Mapping[str, str]) -> InboundDeposit | None:
        signature_verify(
            secret=self.webhook_secret,
            body=body,
            signature=headers.get("X-Wema-Signature"),
            digestmod=SHA512,
            header="X-Wema-Signature",
        )
        payload = json_body(body)
        if "sessionid" in payload or "craccount" in payload:  # ALAT's inbound transfer notification
            return InboundDeposit(
                account_number=account_number_field(payload, "craccount"),
                amount=major_to_minor(payload.get("amount")),
                currency=text_field(payload, "currency", max_length=8).upper() or "NGN",
                reference=text_field(payload, "sessionid", required=True, max_length=128),
                sender_name=text_field(payload, "originatorname"),
                sender_account=text_field(payload, "originatoraccountnumber", max_length=32),
                sender_bank=text_field(payload, "bankname", max_length=128),
                narration=text_field(payload, "narration"),
                transaction_date=date_field(payload, "created_at"),
                payload=_jsonable(payload),
            )
        return InboundDeposit(  # the original design's webhook
            account_number=account_number_field(payload, "account_number"),
            amount=major_to_minor(payload.get("amount")),
            currency=text_field(payload, "currency", max_length=8).upper() or "NGN",
            reference=text_field(payload, "transaction_reference", required=True, max_length=128),
            sender_name=text_field(payload, "sender_name"),
            sender_account=text_field(payload, "sender_account", max_length=32),
            sender_bank=text_field(payload, "sender_bank", max_length=128),
            narration=text_field(payload, "narration"),
            transaction_date=date_field(payload, "transaction_date"),
            payload=_jsonable(payload),
        )

    def deposit_ack(self, *, reference: str, record_id: int, duplicate: bool) -> dict[str, Any]:
        return {
            "ref": str(record_id),
            "transactionreference": reference,
            "status": "00",
            "status_desc": "duplicate, already credited" if duplicate else "credited",
        }


def _jsonable(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as stored: Decimals as strings (they were parsed exactly, never as floats)."""
    return json.loads(json.dumps(payload, default=str))


# --- Paystack dedicated accounts (Wema as the bank) ---------------------------------------------


class PaystackAdapter:
    """Paystack dedicated virtual accounts with `preferred_bank: wema-bank`.

    Creating: a customer (`POST /customer`), then its dedicated account (`POST /dedicated_account`),
    both answered at once. Deposits: `charge.success` events on the `dedicated_nuban` channel,
    signed `x-paystack-signature` = hex HMAC-SHA512 of the raw body with the secret key.
    """

    name = "paystack"
    BANK_CODES = {"wema-bank": WEMA_BANK_CODE}

    def __init__(self, *, base_url: str, secret_key: str, timeout_s: float) -> None:
        self.secret_key = secret_key
        self._client = _LazyClient(
            service="paystack",
            base_url=base_url,
            timeout_s=timeout_s,
            headers={"Authorization": f"Bearer {secret_key}"},
        )

    @property
    def http(self) -> HttpClient:
        return self._client.get()

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.request("POST", path, json=body)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.status_code in (401, 403):
            log.error("paystack.auth_refused", status=response.status_code)
            raise DependencyDown("Paystack refused our credentials.", code="provider_auth_failed")
        if response.status_code >= 500 or not isinstance(answer, dict):
            raise ProviderBadResponse(f"Paystack answered HTTP {response.status_code}.")
        if response.status_code >= 400 or answer.get("status") is not True:
            raise ProviderRejected(str(answer.get("message") or "Paystack refused the request."))
        data = answer.get("data")
        if not isinstance(data, dict):
            raise ProviderBadResponse("Paystack answered without data.")
        return data

    def account_create(
        self, *, reference: str, bvn: str, first_name: str, last_name: str, phone: str, email: str
    ) -> ProviderAccount:
        # Paystack keeps one customer per email and one dedicated account per customer and bank,
        # so repeating these two calls returns the same account.
        customer = self._post(
            "/customer",
            {
                "email": email,
                "first_name": first_name,
                "last_name": last_name,
                "phone": phone,
                "metadata": {"reference": reference},
            },
        )
        code = customer.get("customer_code")
        if not isinstance(code, str) or not code:
            raise ProviderBadResponse("Paystack returned no customer code.")
        account = self._post("/dedicated_account", {"customer": code, "preferred_bank": "wema-bank", "phone": phone})
        bank = _object(account.get("bank"))
        slug = str(bank.get("slug") or "")
        if slug not in self.BANK_CODES:
            raise ProviderBadResponse(f"Paystack gave an account at {slug or 'an unknown bank'}, not Wema.")
        number = account.get("account_number")
        if not isinstance(number, str):
            raise ProviderBadResponse("Paystack returned no account number.")
        return ProviderAccount(
            account_number=number,
            account_name=str(account.get("account_name") or f"{first_name} {last_name}".upper())[:255],
            bank_name=str(bank.get("name") or "Wema Bank")[:128],
            bank_code=self.BANK_CODES[slug],
            reference=code,
        )

    def deposit_parse(self, *, body: bytes, headers: Mapping[str, str]) -> InboundDeposit | None:
        signature_verify(
            secret=self.secret_key,
            body=body,
            signature=headers.get("x-paystack-signature"),
            digestmod=SHA512,
            header="x-paystack-signature",
        )
        payload = json_body(body)
        data = payload.get("data")
        if payload.get("event") != "charge.success" or not isinstance(data, dict):
            return None
        if data.get("channel") != "dedicated_nuban":
            return None
        auth = _object(data.get("authorization"))
        amount = data.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
            raise ValidationFailed("data.amount must be a positive whole number of kobo.", code="malformed_body")
        return InboundDeposit(
            account_number=account_number_field(auth, "receiver_bank_account_number"),
            amount=amount,
            currency=text_field(data, "currency", max_length=8).upper() or "NGN",
            reference=text_field(data, "reference", required=True, max_length=128),
            sender_name=text_field(auth, "sender_name"),
            sender_account=text_field(auth, "sender_bank_account_number", max_length=32),
            sender_bank=text_field(auth, "sender_bank", max_length=128),
            narration=text_field(auth, "narration"),
            transaction_date=date_field(data, "paid_at"),
            payload=_jsonable(payload),
        )

    def deposit_ack(self, *, reference: str, record_id: int, duplicate: bool) -> dict[str, Any]:
        return {"received": True}


# --- Choosing ------------------------------------------------------------------------------------

PROVIDERS = ("wema", "paystack")


def treasury_provider(name: str | None = None) -> VirtualAccountProvider:
    """The named provider, or the configured one (`TREASURY_PROVIDER`) for new accounts."""
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
