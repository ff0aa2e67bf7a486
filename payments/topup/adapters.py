"""Airtime providers behind one interface, and Selcom's utility-payment API.

An adapter never raises for what the provider answered: it returns a `ProviderResult` whose
`outcome` tells the service what it may do. Only `SUCCESS` and `FAILED` are final; `PENDING`
(in progress, ambiguous) and `UNKNOWN` (timeout, 5xx, garbled answer: the request may have been
processed) are settled by later queries; `UNREACHABLE` means the request never left us (no
connection), so nothing can have been processed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

import httpx
import structlog
from django.conf import settings

from core.http import HttpClient, UpstreamUnavailable

log = structlog.get_logger(__name__)


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    PENDING = "pending"
    UNKNOWN = "unknown"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class ProviderResult:
    outcome: Outcome
    result_code: str = ""
    reference: str = ""
    message: str = ""
    http_status: int | None = None
    body: dict[str, Any] = field(default_factory=dict)


class AirtimeProvider(Protocol):
    name: str

    def pay(self, *, transid: str, phone: str, amount: int, currency: str, kind: str) -> ProviderResult:
        """Send one payment, once. `amount` in minor units."""
        ...

    def query(self, *, transid: str) -> ProviderResult:
        """Ask what became of a payment sent with `transid`."""
        ...

    def close(self) -> None: ...


# --- Selcom -----------------------------------------------------------------------------------

SUCCESS_CODES = frozenset({"000"})
IN_PROGRESS_CODES = frozenset({"111", "927"})
AMBIGUOUS_CODES = frozenset({"999"})
PAY_SIGNED_FIELDS = ("transid", "utilitycode", "utilityref", "amount", "vendor", "pin", "msisdn")


def selcom_timestamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).isoformat(timespec="seconds")


def selcom_digest(*, secret: str, timestamp: str, fields: list[tuple[str, str]]) -> str:
    """base64(HMAC-SHA256(secret, "timestamp=<ts>&f1=v1&f2=v2...")), fields in Signed-Fields order."""
    message = "&".join([f"timestamp={timestamp}", *(f"{name}={value}" for name, value in fields)])
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()).decode()


def outcome_for_code(code: str) -> Outcome:
    if code in SUCCESS_CODES:
        return Outcome.SUCCESS
    if code in IN_PROGRESS_CODES or code in AMBIGUOUS_CODES:
        return Outcome.PENDING
    return Outcome.FAILED


class SelcomAdapter:
    name = "selcom"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        api_secret: str,
        vendor: str,
        pin: str,
        timeout_s: float,
        utility_codes: dict[str, str],
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.vendor = vendor
        self.pin = pin
        self.utility_codes = utility_codes
        self.http = HttpClient(service="selcom", base_url=base_url, timeout_s=timeout_s, retries=2, backoff_s=0.5)

    def close(self) -> None:
        self.http.close()

    def _headers(self, fields: list[tuple[str, str]]) -> dict[str, str]:
        timestamp = selcom_timestamp()
        return {
            "Authorization": f"SELCOM {base64.b64encode(self.api_key.encode()).decode()}",
            "Digest-Method": "HS256",
            "Timestamp": timestamp,
            "Signed-Fields": ",".join(name for name, _ in fields),
            "Digest": selcom_digest(secret=self.api_secret, timestamp=timestamp, fields=fields),
        }

    def pay(self, *, transid: str, phone: str, amount: int, currency: str, kind: str) -> ProviderResult:
        ref = phone.removeprefix("+")
        body: dict[str, str | int] = {
            "transid": transid,
            "utilitycode": self.utility_codes[kind],
            "utilityref": ref,
            "amount": amount // 100,  # Selcom takes whole units of the currency; we hold whole naira only
            "vendor": self.vendor,
            "pin": self.pin,
            "msisdn": ref,
        }
        fields = [(name, str(body[name])) for name in PAY_SIGNED_FIELDS]
        try:
            # Never retried: a payment request is sent once; what became of it is asked by query.
            response = self.http.request(
                "POST", "/v1/utilitypayment/process", json=body, headers=self._headers(fields), retry=False
            )
        except UpstreamUnavailable as exc:
            delivered = not isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout)
            outcome = Outcome.UNKNOWN if delivered else Outcome.UNREACHABLE
            return ProviderResult(outcome=outcome, message=exc.message[:255])
        return self._interpret(response, trust_errors=True)

    def query(self, *, transid: str) -> ProviderResult:
        fields = [("transid", transid)]
        try:
            response = self.http.request(
                "GET", "/v1/utilitypayment/query", params={"transid": transid}, headers=self._headers(fields)
            )
        except UpstreamUnavailable as exc:
            return ProviderResult(outcome=Outcome.UNKNOWN, message=exc.message[:255])
        # A refused query (our signature, their outage) says nothing about the payment.
        return self._interpret(response, trust_errors=False)

    def _interpret(self, response: httpx.Response, *, trust_errors: bool) -> ProviderResult:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "resultcode" not in body:
            return ProviderResult(outcome=Outcome.UNKNOWN, http_status=status, message=f"HTTP {status}")
        code = str(body.get("resultcode", ""))
        result = ProviderResult(
            outcome=outcome_for_code(code),
            result_code=code,
            reference=str(body.get("reference") or "")[:128],
            message=str(body.get("message") or body.get("result") or "")[:255],
            http_status=status,
            body=body,
        )
        if status >= 500 or (status >= 400 and not trust_errors):
            return ProviderResult(
                outcome=Outcome.UNKNOWN, result_code=code, message=result.message, http_status=status, body=body
            )
        return result


def topup_provider() -> AirtimeProvider:
    """The configured airtime provider (Selcom; its local fake when no API key is set)."""
    return SelcomAdapter(
        base_url=settings.SELCOM_BASE_URL,
        api_key=settings.SELCOM_API_KEY,
        api_secret=settings.SELCOM_API_SECRET,
        vendor=settings.SELCOM_VENDOR,
        pin=settings.SELCOM_PIN,
        timeout_s=settings.SELCOM_TIMEOUT_S,
        utility_codes={"airtime": settings.SELCOM_AIRTIME_UTILITY_CODE, "data": settings.SELCOM_DATA_UTILITY_CODE},
    )
