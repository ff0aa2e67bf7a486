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
    Periodic(
        name="auto-cashout-sweep",
        task="realtime.tasks.auto_cashout_evaluate",
        every_s=settings.CASHOUT_AUTO_SWEEP_S,
        queue="realtime",
        description="Re-prices every armed auto-cashout target and cashes out those reached.",
    ),
    Periodic(
        name="cashout-offers-expire",
        task="realtime.tasks.cashout_offers_expire",
        every_s=settings.CASHOUT_EXPIRE_SWEEP_S,
        queue="realtime",
        description="Marks cashout offers past their time expired.",
    ),
]
