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
from betting.models import MANUAL_PROVIDER, Event
from betting.services import EventSpec, MarketSpec, SelectionSpec, event_create
from core.errors import DependencyDown

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
