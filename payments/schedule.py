"""Periodic tasks of the payments app (written to django-celery-beat by setup_periodic_tasks).

Payout schedules themselves are rows (PayoutSchedule) that write their own beat entries."""

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
    Periodic(
        name="payouts-sweep",
        task="payments.tasks.payouts_sweep",
        every_s=30,
        description="Pays payout retries whose next_attempt_at has come; asks Stripe for owed transfer reversals.",
    ),
    Periodic(
        name="payouts-monitor",
        task="payments.tasks.payouts_monitor",
        every_s=300,
        description="Checks payout failure rate, pending count and delay; raises alerts.",
    ),
]
