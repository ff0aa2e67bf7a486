"""A local stand-in for the daily-close API (Polygon.io / Massive open-close, PROVIDERS.md).

    GET /v1/open-close/{ticker}/{YYYY-MM-DD}
    200 {"status": "OK", "from", "symbol", "open", "high", "low", "close", "volume", "afterHours", "preMarket"}
    404 {"status": "NOT_FOUND", "request_id", "message": "Data not found."}

A close exists for NYSE trading days once published (90 s after the session's close, as the
Nasdaq Official Closing Price is); other days are 404. Prices are deterministic per ticker and
day unless a test sets them (`auto_publish = False`: only the prices set exist). Tests hold the app object and steer it: `prices`, `delay_s`
(answer slowly, for timeouts), `status_override` (e.g. 503), `raw_body` (malformed answers);
`requests` lists the paths asked.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import exchange_calendars
import pandas as pd
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

PUBLISH_DELAY = timedelta(seconds=90)
_CALENDAR = None


def _calendar() -> Any:
    global _CALENDAR
    if _CALENDAR is None:
        _CALENDAR = exchange_calendars.get_calendar("XNYS", start="2020-01-01", end="2036-12-31")
    return _CALENDAR


def default_close(ticker: str, day: date) -> Decimal:
    """A stable price between 500.00 and 539.99 for the demo."""
    digest = hashlib.sha256(f"{ticker}:{day.isoformat()}".encode()).digest()
    return Decimal(500) + Decimal(int.from_bytes(digest[:4], "big") % 4000) / 100


class ClosingPricesFake:
    def __init__(self) -> None:
        self.prices: dict[tuple[str, str], Decimal] = {}
        self.auto_publish = True
        self.delay_s = 0.0
        self.status_override: int | None = None
        self.raw_body: str | None = None
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.url_map = Map([Rule("/v1/open-close/<ticker>/<day>", endpoint="open_close")])

    def set_close(self, ticker: str, day: date | str, price: Decimal | str) -> None:
        self.prices[(ticker.upper(), str(day))] = Decimal(str(price))

    def set_closes(self, ticker: str, closes: Iterable[tuple[date | str, Decimal | str]]) -> None:
        for day, price in closes:
            self.set_close(ticker, day, price)

    def reset(self) -> None:
        self.prices.clear()
        self.delay_s, self.status_override, self.raw_body = 0.0, None, None
        self.requests.clear()

    def _published(self, day: date) -> bool:
        session = pd.Timestamp(day)
        if not _calendar().is_session(session):
            return False
        close = _calendar().session_close(session).to_pydatetime()
        return datetime.now(tz=close.tzinfo) >= close + PUBLISH_DELAY

    def _open_close(self, ticker: str, day_text: str) -> Response:
        ticker = ticker.upper()
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            return _json({"status": "ERROR", "request_id": uuid.uuid4().hex, "error": "Invalid date."}, 400)
        price = self.prices.get((ticker, day_text))
        if price is None and self.auto_publish and self._published(day):
            price = default_close(ticker, day)
        if price is None:
            return _json({"status": "NOT_FOUND", "request_id": uuid.uuid4().hex, "message": "Data not found."}, 404)
        body = {
            "status": "OK",
            "from": day_text,
            "symbol": ticker,
            "open": float(price - 1),
            "high": float(price + 2),
            "low": float(price - 3),
            "close": float(price),
            "volume": 41_234_567,
            "afterHours": float(price + Decimal("0.12")),
            "preMarket": float(price - Decimal("0.5")),
        }
        return _json(body, 200)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        with self._lock:
            self.requests.append(request.path)
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.status_override is not None:
            response = _json({"status": "ERROR", "error": "fake failure"}, self.status_override)
        elif self.raw_body is not None:
            response = Response(self.raw_body, status=200, content_type="application/json")
        else:
            adapter = self.url_map.bind_to_environ(environ)
            try:
                _, args = adapter.match()
                response = self._open_close(args["ticker"], args["day"])
            except Exception:  # noqa: BLE001 - werkzeug's NotFound and friends: answer like the API does
                response = _json({"status": "NOT_FOUND", "message": "Not found."}, 404)
        return response(environ, start_response)


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def make_app() -> ClosingPricesFake:
    return ClosingPricesFake()
