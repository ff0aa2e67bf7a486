from __future__ import annotations

from celery import shared_task

from core.health import record_beat_tick
from core.idempotency import purge_expired_records


@shared_task(name="core.tasks.beat_heartbeat", ignore_result=True)
def beat_heartbeat() -> None:
    record_beat_tick()


@shared_task(name="core.tasks.purge_idempotency_records", ignore_result=True)
def purge_idempotency_records() -> int:
    return purge_expired_records()
