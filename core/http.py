"""The one outbound HTTP client: every provider call goes through here.

Explicit timeouts, the correlation id on every request, a log line per call, and retries with
exponential backoff on what may succeed later (timeouts, connection errors, 429, 5xx). Adapters
get the final response and interpret it in their provider's terms.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import structlog
from django.conf import settings

from core.errors import DependencyDown
from core.logging import current_correlation_id
from core.metrics import OUTBOUND_CALLS

log = structlog.get_logger(__name__)

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class UpstreamUnavailable(DependencyDown):
    """The provider could not be reached (after retries) or timed out."""

    code = "upstream_unavailable"


def _retry_after_s(response: httpx.Response, default: float) -> float:
    value = response.headers.get("Retry-After")
    if value is None:
        return default
    try:
        return min(max(float(value), 0.0), 30.0)
    except ValueError:
        return default


class HttpClient:
    """A small wrapper over `httpx.Client` for one provider."""

    def __init__(
        self,
        *,
        service: str,
        base_url: str,
        timeout_s: float | None = None,
        headers: Mapping[str, str] | None = None,
        retries: int = 2,
        backoff_s: float = 0.5,
        retry_statuses: Iterable[int] = RETRYABLE_STATUS,
    ) -> None:
        self.service = service
        self.retries = retries
        self.backoff_s = backoff_s
        self.retry_statuses = frozenset(retry_statuses)
        timeout = timeout_s if timeout_s is not None else settings.OUTBOUND_HTTP_TIMEOUT_S
        self._client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(timeout), headers=dict(headers or {}))

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        retry: bool = True,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send one request, retrying transient failures; raises UpstreamUnavailable at the end."""
        all_headers = dict(headers or {})
        cid = current_correlation_id()
        if cid:
            all_headers.setdefault("X-Request-ID", cid)
        attempts = 1 + (self.retries if retry else 0)
        delay = self.backoff_s
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            try:
                response = self._client.request(method, path, headers=all_headers, **kwargs)
            except httpx.TransportError as exc:  # timeouts, refused connections, resets
                elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
                OUTBOUND_CALLS.labels(self.service, "error").inc()
                log.warning(
                    "outbound.error",
                    service=self.service,
                    method=method,
                    path=path,
                    attempt=attempt,
                    error=type(exc).__name__,
                    elapsed_ms=elapsed_ms,
                )
                if attempt == attempts:
                    raise UpstreamUnavailable(
                        f"{self.service} did not answer: {type(exc).__name__}",
                        details={"service": self.service, "timeout": isinstance(exc, httpx.TimeoutException)},
                    ) from exc
                time.sleep(delay)
                delay *= 2
                continue
            elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
            OUTBOUND_CALLS.labels(self.service, str(response.status_code)).inc()
            log.info(
                "outbound.call",
                service=self.service,
                method=method,
                path=path,
                status=response.status_code,
                attempt=attempt,
                elapsed_ms=elapsed_ms,
            )
            if response.status_code in self.retry_statuses and attempt < attempts:
                time.sleep(_retry_after_s(response, delay))
                delay *= 2
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover
