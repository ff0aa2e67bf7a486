"""The live bet-ticket page in headless Debian chromium (Playwright, never `playwright install`).

A real uvicorn serves the platform on a free port against the test database and the test
Redis; deposits, odds changes, results and their settlement by the settlement engine commit in
this process, whose relay publishes them through Redis to the server's consumer and on to the
browser. `make test` installs Debian's chromium when it is missing (see the Makefile's `browser`
target).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.db import connection
from playwright.sync_api import Page, expect, sync_playwright

from betting.models import BetSlip
from ledger.reconcile import reconcile
from tests.realtime.slips import home_of, home_wins, match, place, reprice

pytestmark = pytest.mark.django_db(transaction=True)

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PASSWORD = "a-long-test-password-1"  # tests.factories.make_user's
SLIP_LIST = re.compile(r"/api/bets\?")  # what the page reads its slips from


def off_loop(fn: Any, *args: Any) -> Any:
    """Playwright's sync API keeps an event loop running in this thread, where Django refuses
    database calls: run them in a thread of their own (committed, as a real deposit is)."""

    def call() -> Any:
        try:
            return fn(*args)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """uvicorn running config.asgi:application, restartable on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        db = connection.settings_dict
        self.env = os.environ | {
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "REDIS_URL": settings.REDIS_URL,
            "DEBUG": "true",  # whitenoise serves static files from the apps
            "LOG_LEVEL": "WARNING",
            # Verifies the passwords this process hashed.
            "FAST_PASSWORD_HASHER": "1" if "MD5" in settings.PASSWORD_HASHERS[0] else "0",
        }

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ]
            + ["--lifespan", "off", "--no-access-log"],
            cwd=settings.BASE_DIR,
            env=self.env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/tickets/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, "uvicorn exited"
            time.sleep(0.1)
        raise AssertionError("uvicorn did not start in 30 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(15)
            self.process = None


@pytest.fixture
def server() -> Iterator[Server]:
    running = Server(free_port())
    running.start()
    yield running
    running.stop()


@pytest.fixture
def page() -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.set_default_timeout(20_000)
        yield page
        browser.close()


@pytest.fixture
def player(make_user: Any, fund: Any) -> Any:
    user = make_user(username="page-player")
    fund(user, 13_000, "NGN")
    return user


@pytest.fixture
def slips(player: Any) -> tuple[BetSlip, BetSlip]:
    """Two open singles of NGN 15.00 at 1.90, on two games; the wallet keeps NGN 100.00."""
    return place(player, [home_of(match())], stake=1_500), place(player, [home_of(match())], stake=1_500)


def test_page_logs_in_connects_and_shows_a_deposit_live(
    player: Any, slips: tuple[BetSlip, BetSlip], fund: Any, server: Server, page: Page
) -> None:
    user = player
    ARTIFACTS.mkdir(exist_ok=True)

    page.goto(f"{server.base}/tickets/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    expect(page.locator("#wallets tr[data-currency=NGN]")).to_contain_text("NGN 100.00")
    kept, settled = (page.locator(f'#slip-list li[data-slip="{slip.pk}"]') for slip in slips)
    expect(kept).to_have_attribute("data-status", "pending")
    expect(kept).to_contain_text("stake NGN 15.00")
    expect(settled).to_have_attribute("data-status", "pending")

    off_loop(fund, user, 2_500, "NGN")
    deposit = page.locator('#events li[data-type="balance.updated"]')
    expect(deposit).to_have_count(1)
    expect(deposit.first).to_contain_text('"amount":2500')
    expect(page.locator("#wallets tr[data-currency=NGN]")).to_contain_text("NGN 125.00")
    page.screenshot(path=str(ARTIFACTS / "tickets-live.png"), full_page=True)

    # The server goes away; a deposit lands while the page is cut off; the server comes back.
    server.stop()
    expect(page.locator("#status")).to_have_attribute("data-state", "reconnecting")
    off_loop(fund, user, 1_000, "NGN")
    server.start()
    expect(page.locator("#status")).to_have_attribute("data-state", "connected", timeout=30_000)
    expect(deposit).to_have_count(2)  # the missed one, resumed, and nothing twice
    expect(deposit.first).to_contain_text('"amount":1000')
    expect(page.locator("#wallets tr[data-currency=NGN]")).to_contain_text("NGN 135.00")
    page.screenshot(path=str(ARTIFACTS / "tickets-resumed.png"), full_page=True)

    # The player asks for an offer, then the game is won and settled while the page is open. The
    # slip list cannot be fetched meanwhile: the slip turns won with its payout, and loses its
    # offer and cashout controls, from the settlement's event alone; the balance follows.
    settled.locator(".cashout-request").click()
    expect(settled.locator(".offer")).to_contain_text("Offer NGN 14.25")  # 1,500 at unchanged odds, less 5 %
    page.route(SLIP_LIST, lambda route: route.abort())
    report = off_loop(lambda: home_wins(slips[1].legs.get().event_id))
    assert (report.settled, report.failed) == (1, 0)
    expect(settled).to_have_attribute("data-status", "won")
    expect(settled.locator(".slip-status")).to_have_text("won")
    expect(settled.locator(".payout")).to_have_text("paid NGN 28.50")
    expect(settled.locator(".offer, .cashout")).to_have_count(0)
    expect(page.locator("#wallets tr[data-currency=NGN]")).to_contain_text("NGN 163.50")
    settlement = page.locator('#events li[data-type="bet.settled"]')
    expect(settlement).to_have_count(1)
    expect(settlement).to_contain_text('"status":"won"')
    expect(kept).to_have_attribute("data-status", "pending")
    page.screenshot(path=str(ARTIFACTS / "tickets-settled.png"), full_page=True)
    page.unroute(SLIP_LIST)

    # The other game's price shortens: the open slip shows it, and its offer follows.
    selection = off_loop(lambda: home_of(slips[0].legs.get().event))
    off_loop(reprice, selection, "1.5000")
    expect(kept.locator(f'.leg[data-selection="{selection.pk}"] .odds-now')).to_contain_text("now 1.5000")
    kept.locator(".cashout-request").click()
    offer = kept.locator(".offer")
    expect(offer).to_contain_text("Offer NGN 18.05")  # 1,500 * 1.9 / 1.5, less 5 %
    expect(offer.locator(".countdown")).to_have_text(re.compile(r"^[0-9]+ s $"))
    expect(settled.locator(".leg")).to_contain_text("· won")  # the list reloaded with the offer: the leg's grade
    page.screenshot(path=str(ARTIFACTS / "tickets-offer.png"), full_page=True)
    offer.locator(".cashout-accept").click()
    expect(kept).to_have_attribute("data-status", "cashed_out")
    expect(kept).to_contain_text("Cashed out: paid NGN 18.05")
    expect(page.locator("#wallets tr[data-currency=NGN]")).to_contain_text("NGN 181.55")
    page.screenshot(path=str(ARTIFACTS / "tickets-cashout.png"), full_page=True)
    assert off_loop(lambda: reconcile().clean)
