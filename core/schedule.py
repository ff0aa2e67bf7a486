"""Periodic tasks are declared in code, per app, and written to django-celery-beat by
`manage.py setup_periodic_tasks`. Each app may have a `schedule.py` with `PERIODIC_TASKS`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    every_s: int | None = None
    crontab: dict[str, str] | None = None  # minute, hour, day_of_week, day_of_month, month_of_year, timezone
    kwargs: dict[str, Any] = field(default_factory=dict)
    queue: str | None = None
    description: str = ""


PERIODIC_TASKS = [
    Periodic(
        name="beat-heartbeat",
        task="core.tasks.beat_heartbeat",
        every_s=15,
        description="Proves beat is ticking; /api/health reads it.",
    ),
    Periodic(
        name="purge-idempotency-records",
        task="core.tasks.purge_idempotency_records",
        every_s=3600,
        description="Forgets Idempotency-Key responses older than IDEMPOTENCY_TTL_HOURS.",
    ),
]
