"""Fixtures of the Up/Down tests: the exchange clock, funded players, and the price source.

The daily-close API is played by tests/fakes/closing_prices.py served over real HTTP in a
thread; the Chainlink feed by a real contract on eth-tester's in-process EVM (see
test_oracle_chainlink.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from werkzeug.serving import make_server

from tests.fakes.closing_prices import ClosingPricesFake, make_app

NEW_YORK = ZoneInfo("America/New_York")


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A wall-clock time on the exchange."""
    return datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK)


@pytest.fixture(autouse=True)
def _no_stray_oracle_calls(settings: Any) -> None:
    # Only operator prices unless a test serves a price source (the `prices` fixture).
    settings.ROUNDS_ORACLE = "manual"


@pytest.fixture
def clock(time_machine: Any) -> Callable[[datetime], None]:
    """`clock(ny(2026, 3, 9, 15, 59, 58))`: the clock stands still there (threads included)."""

    def move(when: datetime) -> None:
        time_machine.move_to(when, tick=False)

    return move


@pytest.fixture
def player(make_user: Callable[..., Any], fund: Callable[..., Any]) -> Callable[..., Any]:
    """`player(amount)`: a user holding `amount` micro-USDC."""

    def make(amount: int = 10_000_000, **kwargs: Any) -> Any:
        user = make_user(currency="USDC", **kwargs)
        if amount:
            fund(user, amount, "USDC")
        return user

    return make


@pytest.fixture
def prices(settings: Any) -> Iterator[ClosingPricesFake]:
    """The daily-close API on a free local port, and the http oracle pointed at it."""
    app = make_app()
    app.auto_publish = False  # a close exists only when the test sets it
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    settings.ROUNDS_ORACLE = "http"
    settings.ROUNDS_PRICES_BASE_URL = f"http://127.0.0.1:{server.server_port}"
    settings.ROUNDS_PRICES_API_KEY = ""
    settings.ROUNDS_PRICES_TIMEOUT_S = 2.0
    settings.ROUNDS_PRICES_RETRIES = 1
    try:
        yield app
    finally:
        server.shutdown()
        server.server_close()
