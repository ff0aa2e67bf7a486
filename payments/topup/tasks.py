"""Thin tasks: the sweep (periodic) and one query per due top-up."""

from __future__ import annotations

from celery import shared_task

from payments.topup.services import topup_query
from payments.topup.sweep import topup_sweep


@shared_task(name="payments.tasks.topup_query", ignore_result=True, acks_late=True)
def topup_query_task(topup_id: int) -> None:
    topup_query(topup_id=topup_id)


@shared_task(name="payments.tasks.topup_sweep", ignore_result=True)
def topup_sweep_task() -> dict[str, int]:
    report = topup_sweep()
    for topup_id in report.due:
        topup_query_task.delay(topup_id)
    return {
        "refunded_unsent": len(report.refunded_unsent),
        "recovered_sending": len(report.recovered_sending),
        "flagged": len(report.flagged),
        "queries": len(report.due),
    }
