"""The daily-close oracle over HTTP, against the local server speaking the open-close format."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from betting.models import PriceFetch, Round
from betting.rounds.oracles import OracleError, oracle_from_settings
from betting.rounds.oracles.http import OpenCloseOracle
from betting.rounds.services import round_open
from betting.rounds.settlement import round_settle
from tests.fakes.closing_prices import ClosingPricesFake
from tests.rounds.conftest import ny
from tests.rounds.helpers import bet

pytestmark = pytest.mark.django_db
DAY = date(2026, 3, 9)


def oracle(prices_url: str, **kwargs: Any) -> OpenCloseOracle:
    options = {"base_url": prices_url, "api_key": "", "timeout_s": 2.0, "retries": 1, "backoff_s": 0.01} | kwargs
    return OpenCloseOracle(**options)


@pytest.fixture
def url(prices: ClosingPricesFake, settings: Any) -> str:
    return str(settings.ROUNDS_PRICES_BASE_URL)


def test_reads_the_close_exactly(prices: ClosingPricesFake, url: str) -> None:
    prices.set_close("QQQ", DAY, "612.37")
    quote = oracle(url).fetch_close(asset="QQQ", session_date=DAY)
    assert quote.price == Decimal("612.37")
    assert quote.detail["http_status"] == 200
    assert prices.requests == ["/v1/open-close/QQQ/2026-03-09"]


def test_settings_choose_the_oracle_and_no_key_means_the_fake(settings: Any) -> None:
    settings.ROUNDS_ORACLE = "http"
    assert isinstance(oracle_from_settings(), OpenCloseOracle)
    from config.settings import FAKE_PORT_BASE, ROUNDS_PRICES_API_KEY, ROUNDS_PRICES_BASE_URL

    if not ROUNDS_PRICES_API_KEY:
        assert ROUNDS_PRICES_BASE_URL == f"http://127.0.0.1:{FAKE_PORT_BASE + 5}"
    settings.ROUNDS_ORACLE = "manual"
    assert oracle_from_settings().name == "manual"
    settings.ROUNDS_ORACLE = "chainlink"
    assert oracle_from_settings().name == "chainlink"


def test_not_published_yet(prices: ClosingPricesFake, url: str) -> None:
    with pytest.raises(OracleError) as err:
        oracle(url).fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "not_available"
    assert err.value.detail["http_status"] == 404


def test_server_errors_are_retried_then_unavailable(prices: ClosingPricesFake, url: str) -> None:
    prices.status_override = 503
    with pytest.raises(OracleError) as err:
        oracle(url, retries=2).fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "unavailable"
    assert len(prices.requests) == 3


def test_timeout(prices: ClosingPricesFake, url: str) -> None:
    prices.delay_s = 0.5
    with pytest.raises(OracleError) as err:
        oracle(url, timeout_s=0.1, retries=1).fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "timeout"
    assert len(prices.requests) == 2  # tried twice


def test_unreachable() -> None:
    with pytest.raises(OracleError) as err:
        oracle("http://127.0.0.1:9", retries=0).fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "unavailable"


@pytest.mark.parametrize(
    "body",
    [
        "<html>gateway</html>",
        "[1, 2]",
        '{"status": "ERROR", "error": "bad"}',
        '{"status": "OK", "from": "2026-03-09", "symbol": "SPY", "close": 600.1}',
        '{"status": "OK", "from": "2026-03-06", "symbol": "QQQ", "close": 600.1}',
        '{"status": "OK", "from": "2026-03-09", "symbol": "QQQ"}',
        '{"status": "OK", "from": "2026-03-09", "symbol": "QQQ", "close": "600.1"}',
        '{"status": "OK", "from": "2026-03-09", "symbol": "QQQ", "close": -1}',
        '{"status": "OK", "from": "2026-03-09", "symbol": "QQQ", "close": 0}',
        '{"status": "OK", "from": "2026-03-09", "symbol": "QQQ", "close": true}',
        '{"status": "OK", "from": "2026-03-09", "symbol": "QQQ", "close": NaN}',
    ],
)
def test_malformed_answers_are_refused(prices: ClosingPricesFake, url: str, body: str) -> None:
    prices.raw_body = body
    with pytest.raises(OracleError) as err:
        oracle(url).fetch_close(asset="QQQ", session_date=DAY)
    assert err.value.outcome == "malformed"
    assert err.value.detail["body"] == body


@pytest.fixture
def recording_server() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []

    def app(environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        seen.append({"auth": request.headers.get("Authorization", ""), "query": request.query_string.decode()})
        body = '{"status": "OK", "from": "2026-03-09", "symbol": "QQQ", "close": 1.5}'
        return Response(body, content_type="application/json")(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def test_api_key_travels_in_the_header_not_the_url(recording_server: tuple[str, list[dict[str, str]]]) -> None:
    url, seen = recording_server
    assert oracle(url, api_key="sekret").fetch_close(asset="QQQ", session_date=DAY).price == Decimal("1.5")
    assert seen == [{"auth": "Bearer sekret", "query": "adjusted=true"}]


def test_each_fetch_is_recorded_on_the_round(
    prices: ClosingPricesFake, player: Callable[..., Any], clock: Callable[..., None], settings: Any
) -> None:
    clock(ny(2026, 3, 7, 12))
    round_open()
    bet(player(), "UP", 10)
    bet(player(), "DOWN", 10)
    prices.set_close("QQQ", "2026-03-06", "600")
    prices.raw_body = "{not json"
    clock(ny(2026, 3, 9, 16, 5))
    assert round_settle(code="20260309").state == "waiting"
    prices.raw_body = None
    prices.delay_s = 0.3
    settings.ROUNDS_PRICES_TIMEOUT_S = 0.1
    settings.ROUNDS_PRICES_RETRIES = 0
    clock(ny(2026, 3, 9, 16, 6))
    assert round_settle(code="20260309").state == "waiting"
    fetches = list(PriceFetch.objects.order_by("id").values_list("purpose", "oracle", "outcome", "price"))
    assert fetches == [
        ("reference", "http", "malformed", None),
        ("close", "http", "malformed", None),
        ("reference", "http", "timeout", None),
        ("close", "http", "timeout", None),
    ]
    current = Round.objects.get(code="20260309")
    assert current.settle_attempts == 2 and "no reference and close price" in current.last_error
