"""Thin Celery tasks of settlement (queue `settlement`)."""

from __future__ import annotations

from celery import shared_task

from settlement.models import SettlementRun
from settlement.services.runs import settlement_run_execute
from settlement.services.runs import sync_and_settle as sync_and_settle_run


@shared_task(name="settlement.tasks.sync_and_settle", ignore_result=True)
def sync_and_settle() -> str:
    """The beat's recurring job (every SETTLEMENT_INTERVAL_MIN)."""
    return str(sync_and_settle_run().status)


@shared_task(name="settlement.tasks.run_execute", ignore_result=True, acks_late=True)
def run_execute(run_id: int) -> str:
    """A queued run (a webhook, a recorded result, an operator's void) or a retry of a failed one."""
    try:
        return str(settlement_run_execute(run_id=run_id).status)
    except SettlementRun.DoesNotExist:
        return "missing"
