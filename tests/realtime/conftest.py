"""WebSocket tests run the real ASGI application (Origin validator included) through Channels'
`WebsocketCommunicator`, on the real channels-redis layer (the test Redis database) and the real
PostgreSQL. Events reach the consumers the production way: committed outbox rows, the relay
thread woken on commit, the channel layer. So these tests commit: `transaction=True`.

Async scenarios run with `asgiref.sync.async_to_sync` from a plain test, which keeps the
consumers' database calls on the test's own thread and connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from realtime.relay import relay_drain, relay_stop


@pytest.fixture(autouse=True)
def _realtime_isolation(redis_db: Any) -> Iterator[None]:
    # A relay cycle of the previous test must not publish into this one's Redis.
    relay_drain()
    redis_db.flushdb()
    yield
    relay_drain()


@pytest.fixture(scope="session", autouse=True)
def _relay_stopped_at_end(django_db_setup: Any) -> Iterator[None]:
    # Stopped before the test database is dropped, which its session would block.
    yield
    relay_stop()
