"""Celery discovers `payments.tasks`; each rail's tasks live in its own package."""

from payments.payouts.tasks import (  # noqa: F401
    payout_alert_notify,
    payout_schedule_tick,
    payout_transfer_reversal,
    payouts_monitor,
    payouts_run,
    payouts_sweep,
)
from payments.topup.tasks import topup_query_task, topup_sweep_task  # noqa: F401
