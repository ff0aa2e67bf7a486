from __future__ import annotations

from celery import shared_task

from realtime.relay import outbox_sweep as outbox_sweep_service
from realtime.subscriptions import user_topics_join as user_topics_join_service


@shared_task(name="realtime.tasks.outbox_sweep", ignore_result=True)
def outbox_sweep() -> int:
    return outbox_sweep_service()


@shared_task(name="realtime.tasks.user_topics_join", ignore_result=True, acks_late=True)
def user_topics_join(user_id: int, topics: list[str]) -> None:
    user_topics_join_service(user_id=user_id, topics=topics)
