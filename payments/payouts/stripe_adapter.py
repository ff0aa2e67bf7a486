"""Stripe through `stripe.StripeClient`: transfers to connected accounts, and what their answers mean.

Our retry policy is our own (RULES.md, Payouts), so the client never retries by itself
(`max_network_retries=0`): every attempt is one request, sent with `Idempotency-Key:
payout:<id>` and the same parameters, so Stripe replays rather than pays twice.

Every answer is sorted into one of five outcomes:
- PAID: the transfer exists (a first answer or a replay);
- TRANSIENT: may succeed later (network errors and timeouts, 5xx, 429 `rate_limit`/`lock_timeout`,
  409, `could_not_process`, or any answer with `Stripe-Should-Retry: true`);
- DECLINED: Stripe answered that it did not and will not make this transfer (every other
  failure code, or a retryable one that `Stripe-Should-Retry: false` overrides);
- UNKNOWN: Stripe may or may not have made it and says not to retry (a 5xx with
  `Stripe-Should-Retry: false`, an `idempotency_error`): the money stays held for review;
- SYSTEM: our side is wrong (401/403: key or permissions); nothing is decided about the payout.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import requests
import stripe
import structlog
from django.conf import settings
from django.db import connection

from core.errors import DependencyDown
from core.metrics import OUTBOUND_CALLS

log = structlog.get_logger(__name__)

TRANSIENT_CODES = frozenset({"rate_limit", "lock_timeout", "could_not_process"})
LIVE_KEY_PREFIXES = ("sk_live_", "rk_live_")
FAKE_KEY = "sk_test_tote_local_fake"


class Outcome(StrEnum):
    PAID = "paid"
    TRANSIENT = "transient"
    DECLINED = "declined"
    UNKNOWN = "unknown"
    SYSTEM = "system"


@dataclass(frozen=True)
class TransferResult:
    outcome: Outcome
    transfer_id: str = ""
    code: str = ""
    message: str = ""
    http_status: int | None = None
    elapsed_ms: int = 0
    replayed: bool = False

    @property
    def flags_payee(self) -> bool:
        """RULES.md: a permanent failure code flags the payee until an operator fixes it."""
        return self.outcome is Outcome.DECLINED and self.code not in TRANSIENT_CODES


class StripeLookupFailed(DependencyDown):
    code = "stripe_unavailable"


def ensure_no_transaction() -> None:
    """Provider calls never run inside a database transaction (a test's own wrapper excepted)."""
    if any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks):
        raise RuntimeError("a Stripe call was about to run inside a database transaction")


def api_base() -> str:
    """Where the adapter sends requests: an explicit base, Stripe itself, or the local fake."""
    if settings.STRIPE_API_BASE:
        return str(settings.STRIPE_API_BASE)
    key = settings.STRIPE_SECRET_KEY
    if key.startswith(LIVE_KEY_PREFIXES) or settings.PRODUCTION:
        return "https://api.stripe.com"
    return f"http://127.0.0.1:{settings.FAKE_PORT_BASE + 4}"  # config.settings.fake_url(4)


def _api_key() -> str:
    if settings.STRIPE_SECRET_KEY:
        return str(settings.STRIPE_SECRET_KEY)
    if settings.PRODUCTION:
        raise DependencyDown("Stripe is not configured (STRIPE_SECRET_KEY).", code="stripe_not_configured")
    return FAKE_KEY


class _HttpClient(stripe.RequestsClient):
    """stripe's requests client with one session per thread that does not read proxy settings
    from the environment on every request (a scan of os.environ each time: a third of a
    payout's CPU); a proxy is explicit (STRIPE_PROXY)."""

    def _request_internal(self, *args: Any, **kwargs: Any) -> Any:
        if getattr(self._thread_local, "session", None) is None:
            session = requests.Session()
            session.trust_env = False
            self._thread_local.session = session
        return super()._request_internal(*args, **kwargs)


@functools.lru_cache(maxsize=8)
def _client_for(key: str, base: str, timeout_s: float, proxy: str) -> stripe.StripeClient:
    # The client keeps one session per thread, so the batch's worker threads share it.
    return stripe.StripeClient(
        key,
        base_addresses={"api": base},
        max_network_retries=0,
        http_client=_HttpClient(timeout=timeout_s, proxy=proxy or None),
    )


def client() -> stripe.StripeClient:
    return _client_for(_api_key(), api_base(), float(settings.STRIPE_TIMEOUT_S), str(settings.STRIPE_PROXY))


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == name:
            return str(value).lower()
    return None


def classify_error(exc: stripe.StripeError) -> TransferResult:
    """Sort a Stripe error into an outcome (see the module docstring)."""
    if isinstance(exc, stripe.APIConnectionError):
        cause = exc.__cause__
        code = "timeout" if isinstance(cause, requests.exceptions.Timeout) else "network_error"
        return TransferResult(Outcome.TRANSIENT, code=code, message=str(exc.user_message or "")[:300])
    status = exc.http_status
    body = exc.json_body if isinstance(exc.json_body, dict) else {}
    raw_error = body.get("error")
    error: dict[str, Any] = raw_error if isinstance(raw_error, dict) else {}
    code = str(error.get("code") or exc.code or "")
    err_type = str(error.get("type") or "")
    message = str(error.get("message") or exc.user_message or "")[:300]
    should_retry = _header(exc.headers, "stripe-should-retry")

    def result(outcome: Outcome, fallback_code: str) -> TransferResult:
        return TransferResult(outcome, code=code or fallback_code, message=message, http_status=status)

    if err_type == "idempotency_error" or isinstance(exc, stripe.IdempotencyError):
        return result(Outcome.UNKNOWN, "idempotency_error")
    if status in (401, 403):
        return result(Outcome.SYSTEM, "authentication_error" if status == 401 else "permission_error")
    if should_retry == "true":
        return result(Outcome.TRANSIENT, "should_retry")
    if status is None or status >= 500:
        return result(Outcome.UNKNOWN if should_retry == "false" else Outcome.TRANSIENT, "api_error")
    if status in (409, 429) or code in TRANSIENT_CODES:
        fallback = "rate_limit" if status == 429 else "lock_timeout"
        return result(Outcome.DECLINED if should_retry == "false" else Outcome.TRANSIENT, fallback)
    return result(Outcome.DECLINED, "declined")


def _timed_call(operation: str, call: Any) -> tuple[Any, int]:
    ensure_no_transaction()
    started = time.perf_counter()
    try:
        value = call()
    except stripe.StripeError as exc:
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        OUTBOUND_CALLS.labels("stripe", str(exc.http_status or "error")).inc()
        log.warning("stripe.error", operation=operation, status=exc.http_status, elapsed_ms=elapsed_ms)
        raise
    elapsed_ms = int((time.perf_counter() - started) * 1000)
    OUTBOUND_CALLS.labels("stripe", "200").inc()
    return value, elapsed_ms


def transfer_create(*, payout_id: int, user_id: int, amount: int, currency: str, destination: str) -> TransferResult:
    """One attempt at the transfer of a payout; the same parameters on every attempt."""
    params: dict[str, Any] = {
        "amount": amount,
        "currency": currency.lower(),
        "destination": destination,
        "transfer_group": f"payout:{payout_id}",
        "metadata": {"payout_id": str(payout_id), "user_id": str(user_id)},
    }
    started = time.perf_counter()
    try:
        transfer, elapsed_ms = _timed_call(
            "transfer.create",
            lambda: client().v1.transfers.create(params, {"idempotency_key": f"payout:{payout_id}"}),  # type: ignore[arg-type]
        )
    except stripe.StripeError as exc:
        found = classify_error(exc)
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        log.info("payout.transfer_failed", payout=payout_id, outcome=found.outcome, code=found.code)
        return TransferResult(found.outcome, "", found.code, found.message, found.http_status, elapsed_ms)
    replayed = _header(getattr(transfer.last_response, "headers", None), "idempotent-replayed") == "true"
    return TransferResult(Outcome.PAID, transfer_id=str(transfer.id), elapsed_ms=elapsed_ms, replayed=replayed)


def transfer_find(*, payout_id: int) -> str | None:
    """The id of the transfer Stripe holds for a payout, if any (before giving a hold back)."""
    try:
        page, _ = _timed_call(
            "transfer.list",
            lambda: client().v1.transfers.list({"transfer_group": f"payout:{payout_id}", "limit": 10}),
        )
    except stripe.StripeError as exc:
        raise StripeLookupFailed(f"Could not look the transfer of payout {payout_id} up: {exc}") from exc
    for transfer in page.data:
        found = transfer.to_dict()  # StripeObject is not a dict in stripe-python 16
        metadata = found.get("metadata") or {}
        if str(metadata.get("payout_id", payout_id)) == str(payout_id):
            return str(found["id"])
    return None


def transfer_reverse(*, payout_id: int, transfer_id: str, amount: int) -> TransferResult:
    """Pull a paid transfer back from the connected account (after its bank payout failed)."""
    try:
        reversal, elapsed_ms = _timed_call(
            "transfer.reverse",
            lambda: client().v1.transfers.reversals.create(
                transfer_id,
                {"amount": amount, "metadata": {"payout_id": str(payout_id)}},
                {"idempotency_key": f"payout:{payout_id}:transfer-reversal"},
            ),
        )
    except stripe.StripeError as exc:
        return classify_error(exc)
    return TransferResult(Outcome.PAID, transfer_id=str(reversal.id), elapsed_ms=elapsed_ms)
