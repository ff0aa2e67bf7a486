from __future__ import annotations

from django.conf import settings

from core.schedule import Periodic

PERIODIC_TASKS = [
    Periodic(
        name="outbox-sweep",
        task="realtime.tasks.outbox_sweep",
        every_s=settings.REALTIME_SWEEP_INTERVAL_S,
        queue="realtime",
        description="Publishes outbox rows the on-commit relay missed (crash recovery).",
    ),
]
