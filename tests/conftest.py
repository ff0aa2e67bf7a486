"""Shared fixtures. Tests run against the real PostgreSQL and Redis (never SQLite or mocks).

Under pytest the settings switch to the test Redis database (TEST_REDIS_URL, 15 by default),
so a running demo is never touched, and to a fast password hasher (config/settings.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient


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
