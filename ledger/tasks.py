"""Chain anchoring tasks (routed to the `chain` queue). Each calls one service; a node that is
down is logged and left to the next beat tick, which is the retry."""

from __future__ import annotations

import structlog
from celery import shared_task

from core.errors import ApplicationError
from ledger.chain.anchoring import big_wins_anchor, chain_records_anchor

log = structlog.get_logger(__name__)


@shared_task(name="ledger.tasks.anchor_big_wins", ignore_result=True)
def anchor_big_wins() -> str:
    try:
        report = big_wins_anchor()
    except ApplicationError as exc:
        log.warning("chain.anchor_skipped", code=exc.code, error=exc.message)
        return exc.code
    return report.summary()


@shared_task(name="ledger.tasks.anchor_sweep", ignore_result=True)
def anchor_sweep() -> str:
    try:
        report = chain_records_anchor()
    except ApplicationError as exc:
        log.warning("chain.sweep_skipped", code=exc.code, error=exc.message)
        return exc.code
    return report.summary()
