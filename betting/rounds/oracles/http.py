"""Daily closes over HTTP in the Polygon.io (Massive) open-close format (PROVIDERS.md):

    GET /v1/open-close/{ticker}/{YYYY-MM-DD}
    200 {"status": "OK", "from": "2026-01-09", "symbol": "QQQ", "open", "high", "low", "close", ...}
    404 {"status": "NOT_FOUND", ...} while the day's close is not published

Calls go through core.http (explicit timeout, retries on timeouts, 429 and 5xx). The API key
travels in the Authorization header, never in a URL that logs would keep.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from betting.rounds.oracles.base import OracleError, Quote, positive_price
from core.http import HttpClient, UpstreamUnavailable

BODY_EXCERPT = 500


class OpenCloseOracle:
    name = "http"

    def __init__(self, *, base_url: str, api_key: str, timeout_s: float, retries: int, backoff_s: float = 0.5) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s

    def fetch_close(self, *, asset: str, session_date: date) -> Quote:
        day = session_date.isoformat()
        client = HttpClient(
            service="closing_prices",
            base_url=self.base_url,
            timeout_s=self.timeout_s,
            headers={"Authorization": f"Bearer {self.api_key}"} if self.api_key else {},
            retries=self.retries,
            backoff_s=self.backoff_s,
        )
        try:
            response = client.request(
                "GET", f"/v1/open-close/{quote(asset, safe='')}/{day}", params={"adjusted": "true"}
            )
        except UpstreamUnavailable as exc:
            outcome = "timeout" if exc.details.get("timeout") else "unavailable"
            raise OracleError(outcome, exc.message, {"base_url": self.base_url}) from exc
        finally:
            client.close()

        detail: dict[str, Any] = {"http_status": response.status_code, "body": response.text[:BODY_EXCERPT]}
        if response.status_code == 404:
            raise OracleError("not_available", f"No close for {asset} on {day} yet.", detail)
        if response.status_code in (401, 403):
            raise OracleError("misconfigured", f"The price source refused our key ({response.status_code}).", detail)
        if response.status_code != 200:
            raise OracleError("unavailable", f"The price source answered {response.status_code}.", detail)
        try:
            body = json.loads(response.text, parse_float=Decimal)
        except ValueError:
            raise OracleError(
                "malformed", "The price source answered with something that is not JSON.", detail
            ) from None
        if not isinstance(body, dict):
            raise OracleError("malformed", "The price source's answer is not a JSON object.", detail)
        status = body.get("status")
        if status == "NOT_FOUND":
            raise OracleError("not_available", f"No close for {asset} on {day} yet.", detail)
        if status != "OK":
            raise OracleError("malformed", f"Unexpected status {status!r} from the price source.", detail)
        if body.get("from") != day or str(body.get("symbol", "")).upper() != asset.upper():
            raise OracleError(
                "malformed",
                f"The price source answered for {body.get('symbol')!r} on {body.get('from')!r}, not {asset} on {day}.",
                detail,
            )
        price = positive_price(body.get("close"))
        if price is None:
            raise OracleError("malformed", f"The close {body.get('close')!r} is not a positive number.", detail)
        return Quote(price=price, detail=detail)
