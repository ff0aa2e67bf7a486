from __future__ import annotations

from celery import shared_task

from realtime.cashout.auto import auto_cashouts_evaluate
from realtime.cashout.services import cashout_offers_expire as cashout_offers_expire_service
from realtime.relay import outbox_sweep as outbox_sweep_service
from realtime.subscriptions import user_topics_join as user_topics_join_service


@shared_task(name="realtime.tasks.outbox_sweep", ignore_result=True)
def outbox_sweep() -> int:
    return outbox_sweep_service()


@shared_task(name="realtime.tasks.user_topics_join", ignore_result=True, acks_late=True)
def user_topics_join(user_id: int, topics: list[str]) -> None:
    user_topics_join_service(user_id=user_id, topics=topics)


@shared_task(name="realtime.tasks.auto_cashout_evaluate", ignore_result=True, acks_late=True)
def auto_cashout_evaluate(market_ids: list[int] | None = None) -> int:
    """Odds moved in these markets (or, from beat, anywhere): cash out the targets reached."""
    return auto_cashouts_evaluate(market_ids=market_ids)


@shared_task(name="realtime.tasks.cashout_offers_expire", ignore_result=True)
def cashout_offers_expire() -> int:
    return cashout_offers_expire_service()
