"""Demo catalogue for `make run`: the fixtures of the (fake) feed, synced through the real
adapter, plus one operator-made outright. Idempotent: a second run on the same feed adds nothing.

`make run` loads the demo before it starts the fake providers, so when no API key is set and
nothing answers on the fake's port yet, the fake is served here for the length of the sync.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from betting.feed.sportsgameodds import fake_base_url
from betting.feed.sync import events_sync
from betting.models import MANUAL_PROVIDER, Event, RoundBet
from betting.rounds.services import round_bet_place, round_open
from betting.services import EventSpec, MarketSpec, SelectionSpec, event_create
from core.errors import ApplicationError, DependencyDown
from users.models import User

OUTRIGHT_ID = "demo-nba-champion"
OUTRIGHT = [
    ("Boston Celtics", "3.50"),
    ("Denver Nuggets", "5.00"),
    ("Milwaukee Bucks", "6.50"),
    ("Los Angeles Lakers", "9.00"),
    ("Golden State Warriors", "11.00"),
    ("New York Knicks", "15.00"),
]


def _port_open(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=0.5):
            return True
    except OSError:
        return False


@contextmanager
def _fake_feed_served() -> Iterator[None]:
    """Serve the fake SportsGameOdds on its port unless something already does."""
    if settings.SPORTSGAMEODDS_API_KEY or _port_open(fake_base_url()):
        yield
        return
    from werkzeug.serving import make_server

    from tests.fakes.sportsgameodds import make_app

    server = make_server("127.0.0.1", settings.FAKE_PORT_BASE + 1, make_app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="demo-fake-sgo", daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=5)


def load_demo(stdout: Any) -> None:
    sportsbook_demo(stdout)
    rounds_demo(stdout)


def sportsbook_demo(stdout: Any) -> None:
    with _fake_feed_served():
        try:
            report = events_sync()
        except DependencyDown as exc:
            stdout.write(f"sportsbook: feed sync failed ({exc.message}); the beat task will retry")
        else:
            summary = ", ".join(f"{k} {v}" for k, v in report.as_dict().items())
            stdout.write(f"sportsbook: feed synced ({summary})")

    if not Event.objects.filter(provider=MANUAL_PROVIDER, external_id=OUTRIGHT_ID).exists():
        event_create(
            spec=EventSpec(
                sport="BASKETBALL",
                league="NBA",
                name="NBA Champion",
                scheduled_start=timezone.now() + timedelta(days=120),
                external_id=OUTRIGHT_ID,
                markets=[
                    MarketSpec(
                        kind="outright",
                        name="Winner",
                        paying_places=1,
                        selections=[
                            SelectionSpec(outcome="competitor", name=name, odds=Decimal(odds))
                            for name, odds in OUTRIGHT
                        ],
                    )
                ],
            )
        )
        stdout.write("sportsbook: created the outright 'NBA Champion'")


# player, side, stake in micro-USDC (each demo player holds 1 USDC)
ROUND_BETS = [("player1", "UP", 250_000), ("player2", "DOWN", 400_000), ("player3", "UP", 100_000)]


def rounds_demo(stdout: Any) -> None:
    """The Up/Down round taking bets, with a few bets on both sides (keys make a rerun a no-op)."""
    current = round_open()
    placed = 0
    for username, side, amount in ROUND_BETS:
        user = User.objects.filter(username=username).first()
        if user is None:
            continue
        key = f"demo:{current.code}:{username}"
        if RoundBet.objects.filter(user=user, idempotency_key=key).exists():
            continue
        try:
            round_bet_place(user_id=user.pk, side=side, amount=amount, idempotency_key=key, code=current.code)
        except ApplicationError as exc:
            stdout.write(f"demo bet of {username} skipped: {exc.message}")
            continue
        placed += 1
    stdout.write(f"Up/Down round {current.code} ({current.asset}) open; {placed} demo bet(s) placed")
