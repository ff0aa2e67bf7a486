from __future__ import annotations

from core.schedule import Periodic

PERIODIC_TASKS = [
    Periodic(
        name="topup-sweep",
        task="payments.tasks.topup_sweep",
        every_s=30,
        queue="payments",
        description=(
            "Queries in-progress/ambiguous top-ups when due (every SELCOM_QUERY_INTERVAL_S), flags those past "
            "SELCOM_SLA_S, refunds holds that were never sent, and recovers sends whose answer was lost."
        ),
    ),
]
