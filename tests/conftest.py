"""Shared fixtures. Tests run against the real PostgreSQL and Redis (never SQLite or mocks).

The environment below is set before Django reads its settings: Redis database 15 (flushed per
test that asks for it) keeps tests away from a running demo, and a fast password hasher keeps
thousands of test users cheap.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ

# .env may name the test Redis database; the process environment wins over it.
environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)
os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("FAST_PASSWORD_HASHER", "1")
os.environ.setdefault("DATABASE_SYNCHRONOUS_COMMIT", "0")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("SIMULATED_DEPOSITS_ENABLED", "1")

from collections.abc import Callable, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402


@pytest.fixture(autouse=True)
def _throttle_cache_isolation(settings: Any) -> Iterator[None]:
    # Throttles count in the cache; a shared count would make tests depend on their order.
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def redis_db() -> Iterator[Any]:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db: Any) -> Callable[..., Any]:
    from tests.factories import make_user as factory

    return factory


@pytest.fixture
def user(make_user: Callable[..., Any]) -> Any:
    return make_user()


@pytest.fixture
def staff(make_user: Callable[..., Any]) -> Any:
    return make_user(is_staff=True)


@pytest.fixture
def auth_api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def fund() -> Callable[..., Any]:
    """Credit a user: `fund(user, 1000, "NGN")`."""
    from tests.factories import fund as factory

    return factory
