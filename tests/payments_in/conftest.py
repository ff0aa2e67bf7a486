"""Fixtures for top-up and treasury: the local fake Selcom and Wema, served on free ports."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server

from tests.fakes import wema as fake_wema
from tests.fakes.selcom import FakeSelcom
from tests.fakes.wema import FakeWema

logging.getLogger("werkzeug").setLevel(logging.ERROR)


@dataclass
class Served:
    app: Any
    url: str

    def get(self, path: str) -> Any:
        return httpx.get(self.url + path, timeout=5).json()

    def post(self, path: str, body: Any) -> Any:
        return httpx.post(self.url + path, json=body, timeout=5).json()


@pytest.fixture
def serve() -> Iterator[Callable[[Any], Served]]:
    """Serve a WSGI app on a free port for the test: `serve(app) -> Served`."""
    servers = []

    def start(app: Any) -> Served:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        return Served(app=app, url=f"http://127.0.0.1:{server.server_port}")

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def selcom(serve: Callable[[Any], Served], settings: Any) -> Served:
    served = serve(FakeSelcom(slow_s=1.5))
    settings.SELCOM_BASE_URL = served.url
    settings.SELCOM_TIMEOUT_S = 5.0  # generous: a loaded machine must not turn answers into timeouts
    return served


@pytest.fixture
def wema(serve: Callable[[Any], Served], settings: Any) -> Served:
    served = serve(FakeWema())
    settings.WEMA_BASE_URL = served.url
    return served


@pytest.fixture
def closed_port_url() -> str:
    """A URL nobody listens on: connections are refused at once."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def ng_user(make_user: Callable[..., Any], fund: Callable[..., Any]) -> Any:
    user = make_user(currency="NGN")
    fund(user, 10_000_000, "NGN")  # NGN 100,000.00
    return user


def sign_selcom_callback(body: dict[str, Any] | bytes, secret: str | None = None) -> tuple[bytes, str]:
    from django.conf import settings

    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    key = settings.SELCOM_CALLBACK_SECRET if secret is None else secret
    return raw, hmac.new(key.encode(), raw, hashlib.sha256).hexdigest()


def signed_deposit(secret: str | None = None, **kwargs: Any) -> tuple[bytes, str]:
    from django.conf import settings

    raw = fake_wema.deposit_body(**kwargs)
    return raw, fake_wema.sign(raw, settings.WEMA_WEBHOOK_SECRET if secret is None else secret)


def wallet(user: Any, currency: str = "NGN") -> int:
    from ledger.services import wallet_for

    return int(wallet_for(user_id=user.pk, currency=currency).balance)


def clearing(kind: str, currency: str = "NGN") -> int:
    from ledger.selectors import account_balance
    from ledger.services import system_account

    return account_balance(system_account(kind=kind, currency=currency))


def books_balance() -> None:
    from ledger.reconcile import reconcile

    report = reconcile()
    assert report.clean, report.breaks
