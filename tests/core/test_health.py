from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_health_reports_each_part(api: Any, redis_db: Any) -> None:
    response = api.get("/api/health")
    body = response.json()
    assert response.status_code == 200
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["status"] == "ok"
    # No worker and no beat run in this test: the platform is up but degraded.
    assert body["checks"]["workers"]["status"] == "down"
    assert body["checks"]["beat"]["status"] == "down"
    assert body["status"] == "degraded"
    assert response["X-Request-ID"]


def test_health_beat_tick_counts(api: Any, redis_db: Any) -> None:
    from core.health import record_beat_tick

    record_beat_tick()
    body = api.get("/api/health").json()
    assert body["checks"]["beat"]["status"] == "ok"
    assert body["checks"]["beat"]["age_s"] < 5


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_health_sees_a_live_worker(api: Any, redis_db: Any) -> None:
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    with start_worker(app, perform_ping_check=False, queues=["default"], loglevel="WARNING"):
        body = api.get("/api/health").json()
    assert body["checks"]["workers"]["status"] == "ok"
    assert body["checks"]["workers"]["workers"]
