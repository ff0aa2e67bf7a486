"""Payout tasks: thin, take ids, call one service. Named `payments.tasks.*` (the payments queue)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from core.errors import Conflict


@shared_task(name="payments.tasks.payout_schedule_tick", ignore_result=True)
def payout_schedule_tick(schedule_id: int) -> str | None:
    from payments.payouts.runs import payout_schedule_tick as tick

    try:
        report = tick(schedule_id=schedule_id)
    except Conflict:
        return None  # another run holds the lock; beat fires again within the hour (see schedules.py)
    return report.run_id if report else None


@shared_task(name="payments.tasks.payouts_run", ignore_result=True)
def payouts_run(triggered_by_id: int | None = None) -> str | None:
    from payments.models import PayoutRun
    from payments.payouts.runs import payouts_cron_run

    try:
        report = payouts_cron_run(
            force=True, dry_run=False, trigger=PayoutRun.Trigger.MANUAL, triggered_by_id=triggered_by_id
        )
    except Conflict:
        return None
    return report.run_id if report else None


@shared_task(name="payments.tasks.payouts_sweep", ignore_result=True)
def payouts_sweep() -> dict[str, Any]:
    from payments.payouts.runs import payouts_sweep as sweep

    return sweep()


@shared_task(name="payments.tasks.payouts_monitor", ignore_result=True)
def payouts_monitor() -> int:
    from payments.payouts.monitoring import alerts_evaluate

    return len(alerts_evaluate())


@shared_task(
    name="payments.tasks.payout_alert_notify",
    ignore_result=True,
    autoretry_for=(ConnectionError,),
    retry_backoff=True,
    max_retries=5,
)
def payout_alert_notify(alert_id: int) -> list[str]:
    from payments.payouts.alerts import alert_notify

    return alert_notify(alert_id=alert_id)


@shared_task(name="payments.tasks.payout_transfer_reversal", ignore_result=True)
def payout_transfer_reversal(payout_id: int) -> str:
    from payments.payouts.runs import payout_transfer_reversal_push

    return payout_transfer_reversal_push(payout_id=payout_id)
