from __future__ import annotations

from django.conf import settings

from core.schedule import Periodic

SYNC_AND_SETTLE = "sync-and-settle"

PERIODIC_TASKS = [
    Periodic(
        name=SYNC_AND_SETTLE,
        task="settlement.tasks.sync_and_settle",
        every_s=settings.SETTLEMENT_INTERVAL_MIN * 60,
        description="Pulls finalized results from the feed, retries failed settlement runs, settles every event due.",
    ),
]
