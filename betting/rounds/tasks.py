"""Beat tasks of the Up/Down rounds: thin, idempotent, each calls one service.

Named `betting.tasks.*`. Settlement runs on the settlement queue.
"""

from __future__ import annotations

import structlog
from celery import shared_task

from betting.models import Round
from betting.rounds import prices, services, settlement
from core.errors import ApplicationError

log = structlog.get_logger(__name__)


@shared_task(name="betting.tasks.rounds_open_next", ignore_result=True)
def rounds_open_next() -> str:
    """Open the round that takes bets now (after a lock, the next trading day's)."""
    opened = services.round_open()
    if opened.reference_price is None:
        prices.round_reference_prefetch(round_id=opened.pk)
    return opened.code


@shared_task(name="betting.tasks.rounds_lock_due", ignore_result=True)
def rounds_lock_due() -> list[str]:
    return services.rounds_lock_due()


@shared_task(name="betting.tasks.rounds_settle_due", ignore_result=True)
def rounds_settle_due() -> list[int]:
    claimed = settlement.rounds_settle_due()
    for round_id in claimed:
        round_settle.apply_async(args=(round_id,), queue="settlement")
    return claimed


@shared_task(name="betting.tasks.round_settle", ignore_result=True, acks_late=True)
def round_settle(round_id: int) -> str:
    code = Round.objects.values_list("code", flat=True).get(pk=round_id)
    try:
        outcome = settlement.round_settle(code=code)
    except ApplicationError as exc:  # too early, still open: the next sweep tries again
        log.info("round.settle_skipped", code=code, reason=exc.code)
        return exc.code
    return outcome.state
