"""Helpers for tests that run the platform's own processes (workers, commands) beside them."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(settings.BASE_DIR)
CRON_SECRET = "race-cron-secret"


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a process working on this test's database and Redis."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CRON_SECRET": CRON_SECRET,
        "REALTIME_RELAY_ON_COMMIT": "false",
        "LOG_LEVEL": "WARNING",
        "CONN_MAX_AGE": "0",
    }
    env.update(extra)
    return env


def port_open(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
