"""`/api/health`: is each part of the platform up, and how fast does it answer."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

BEAT_HEARTBEAT_KEY = "tote:beat:last_tick"


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def _timed(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = check() or {}
        status = detail.pop("status", "ok")
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure, it never raises
        detail, status = {"error": f"{type(exc).__name__}: {exc}"[:300]}, "down"
    return {"status": status, "latency_ms": round((time.perf_counter() - started) * 1000, 1), **detail}


def check_database() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {}


def check_redis() -> dict[str, Any]:
    redis_client().ping()
    return {}


def check_workers() -> dict[str, Any]:
    from config.celery import app

    # One answer is enough to call the workers up, and returns at once instead of after the timeout.
    replies = app.control.ping(timeout=settings.HEALTH_WORKER_PING_TIMEOUT_S, limit=1) or []
    workers = sorted(name for reply in replies for name in reply)
    return {"status": "ok" if workers else "down", "workers": workers}


def check_beat() -> dict[str, Any]:
    raw = redis_client().get(BEAT_HEARTBEAT_KEY)
    if raw is None:
        return {"status": "down", "last_tick": None}
    last = float(raw)
    age = time.time() - last
    return {
        "status": "ok" if age <= settings.HEALTH_BEAT_MAX_AGE_S else "down",
        "last_tick": datetime.fromtimestamp(last, tz=UTC).isoformat(),
        "age_s": round(age, 1),
    }


def record_beat_tick() -> None:
    redis_client().set(BEAT_HEARTBEAT_KEY, str(time.time()), ex=24 * 3600)


def platform_health() -> tuple[str, dict[str, Any]]:
    checks = {
        "database": _timed(check_database),
        "redis": _timed(check_redis),
        "workers": _timed(check_workers),
        "beat": _timed(check_beat),
    }
    if checks["database"]["status"] != "ok" or checks["redis"]["status"] != "ok":
        overall = "down"
    elif any(c["status"] != "ok" for c in checks.values()):
        overall = "degraded"
    else:
        overall = "ok"
    return overall, checks


class HealthView(APIView):
    """Database and Redis are required (503 when down); workers and beat degrade the status."""

    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(operation_id="health", responses={200: dict, 503: dict})
    def get(self, request: Request) -> Response:
        overall, checks = platform_health()
        body = {"status": overall, "checks": checks, "time": timezone.now().isoformat()}
        return Response(body, status=503 if overall == "down" else 200)
