"""Fixtures of the sportsbook tests: a catalogue made the way operators make one, and the fake
SportsGameOdds served on a local port that the adapter's settings point at."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.fakes.sportsgameodds import FakeSportsGameOdds

# A Saturday evening in the fake's calendar: games finished, live and to come in every league.
FROZEN_AT = datetime(2026, 3, 14, 21, 5, tzinfo=UTC)


@pytest.fixture
def make_event(db: Any) -> Callable[..., Any]:
    """An operator's event in the future with a moneyline, a 1X2, a quarter-line spread (in
    play) and a total; `make_event(start=..., markets=[...])` to change them."""
    from betting.services import EventSpec, MarketSpec, SelectionSpec, event_create

    counter = iter(range(1, 10_000))

    def factory(*, start: datetime | None = None, markets: list[Any] | None = None, **extra: Any) -> Any:
        n = next(counter)
        spec = EventSpec(
            sport="SOCCER",
            league="EPL",
            home=extra.pop("home", f"Home {n}"),
            away=extra.pop("away", f"Away {n}"),
            name=extra.pop("name", ""),
            scheduled_start=start or datetime.now(UTC) + timedelta(hours=2),
            markets=markets
            or [
                MarketSpec(
                    kind="moneyline",
                    selections=[
                        SelectionSpec(outcome="home", odds=Decimal("1.9000")),
                        SelectionSpec(outcome="away", odds=Decimal("2.0500")),
                    ],
                ),
                MarketSpec(
                    kind="1x2",
                    selections=[
                        SelectionSpec(outcome="home", odds=Decimal("2.4000")),
                        SelectionSpec(outcome="draw", odds=Decimal("3.2000")),
                        SelectionSpec(outcome="away", odds=Decimal("3.0000")),
                    ],
                ),
                MarketSpec(
                    kind="spread",
                    line=Decimal("-0.75"),
                    in_play=True,
                    selections=[
                        SelectionSpec(outcome="home", odds=Decimal("1.9500")),
                        SelectionSpec(outcome="away", odds=Decimal("1.9500")),
                    ],
                ),
                MarketSpec(
                    kind="total",
                    line=Decimal("2.5"),
                    selections=[
                        SelectionSpec(outcome="over", odds=Decimal("1.8000")),
                        SelectionSpec(outcome="under", odds=Decimal("2.0000")),
                    ],
                ),
            ],
            **extra,
        )
        return event_create(spec=spec)

    return factory


def selection_of(event: Any, kind: str, outcome: str) -> Any:
    from betting.models import Selection

    return Selection.objects.select_related("market").get(market__event=event, market__kind=kind, outcome=outcome)


@pytest.fixture
def sgo(settings: Any) -> Iterator[FakeSportsGameOdds]:
    """The fake feed on a free port; the adapter (no API key) finds it at fake_url(1)."""
    fake = FakeSportsGameOdds(seed=7)
    server = make_server("127.0.0.1", 0, fake, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SPORTSGAMEODDS_API_KEY = ""
    settings.FAKE_PORT_BASE = server.server_port - 1
    settings.SPORTSGAMEODDS_BACKOFF_S = 0.01
    settings.SPORTSGAMEODDS_LOOKBACK_HOURS = 2
    settings.SPORTSGAMEODDS_LOOKAHEAD_HOURS = 2
    settings.SPORTSGAMEODDS_LEAGUES = []
    try:
        yield fake
    finally:
        server.shutdown()
        thread.join(timeout=5)
