"""`GET /api/settlement/health`: is settlement keeping up, as one 0-100 score and its parts.

The score (the seed's formula): start at 100; a paused queue -50 (the recurring job disabled or
missing in the schedule, or no worker answering); failure rate of recent runs over 50/30/10/5 %
-40/-30/-20/-10; jobs waiting over 100/50/20 -20/-10/-5; pending slips whose every result is in
and that have waited longer than the interval -20. 200 at 50 and above, 503 below.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from settlement.models import SettlementRun
from settlement.schedule import SYNC_AND_SETTLE
from settlement.selectors import recent_runs, settlement_backlog

QUEUE = "settlement"
HEALTHY_FROM = 50


@dataclass(frozen=True)
class Health:
    score: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.score >= HEALTHY_FROM


def broker_queue_depth(queue: str = QUEUE) -> int | None:
    """Messages waiting in the Celery queue on the Redis broker (kombu keeps a list per priority)."""
    try:
        client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=1, socket_connect_timeout=1)
        names = [queue, *(f"{queue}\x06\x16{priority}" for priority in (3, 6, 9))]
        with client.pipeline() as pipe:
            for name in names:
                pipe.llen(name)
            return int(sum(pipe.execute()))
    except redis.RedisError:
        return None


def workers_up() -> list[str]:
    from config.celery import app

    try:
        replies = app.control.ping(timeout=settings.HEALTH_WORKER_PING_TIMEOUT_S) or []
    except Exception:  # noqa: BLE001 - no broker: no worker can be reached
        return []
    return sorted(name for reply in replies for name in reply)


def recurring_job(now: datetime) -> dict[str, Any]:
    task = PeriodicTask.objects.select_related("interval").filter(name=SYNC_AND_SETTLE).first()
    if task is None:
        return {"name": SYNC_AND_SETTLE, "scheduled": False, "enabled": False, "last_run": None, "next_run": None}
    every = timedelta(**{task.interval.period: task.interval.every}) if task.interval else None
    next_run = (task.last_run_at + every if task.last_run_at else now) if every else None
    return {
        "name": SYNC_AND_SETTLE,
        "scheduled": True,
        "enabled": task.enabled,
        "every_s": every.total_seconds() if every else None,
        "last_run": task.last_run_at.isoformat() if task.last_run_at else None,
        "next_run": next_run.isoformat() if next_run else None,
    }


def health_score(
    *, paused: bool, failure_rate: float, waiting: int, backlog_age_s: float | None, interval_s: float
) -> tuple[int, dict[str, int]]:
    """The seed's formula (see the module docstring); returns the score and what was taken off."""
    penalties: dict[str, int] = {}
    if paused:
        penalties["paused"] = 50
    for above, cost in ((0.5, 40), (0.3, 30), (0.1, 20), (0.05, 10)):
        if failure_rate > above:
            penalties["failure_rate"] = cost
            break
    for above, cost in ((100, 20), (50, 10), (20, 5)):
        if waiting > above:
            penalties["waiting"] = cost
            break
    if backlog_age_s is not None and backlog_age_s > interval_s:
        penalties["backlog"] = 20
    return max(0, 100 - sum(penalties.values())), penalties


def settlement_health(*, now: datetime | None = None) -> Health:
    now = now or timezone.now()
    interval_s = settings.SETTLEMENT_INTERVAL_MIN * 60
    depth = broker_queue_depth()
    workers = workers_up()
    job = recurring_job(now)
    runs = recent_runs()
    failed = sum(1 for run in runs if run.status == SettlementRun.Status.FAILED)
    failure_rate = failed / len(runs) if runs else 0.0
    open_runs = SettlementRun.objects.filter(
        status__in=[SettlementRun.Status.QUEUED, SettlementRun.Status.RETRYING]
    ).count()
    running = SettlementRun.objects.filter(status=SettlementRun.Status.RUNNING).count()
    waiting = max(depth or 0, open_runs)
    backlog = settlement_backlog()
    oldest_age = backlog.oldest_age_s(now)
    last_run = SettlementRun.objects.filter(finished_at__isnull=False, dry_run=False).order_by("-finished_at").first()

    paused = not job["enabled"] or not workers
    score, penalties = health_score(
        paused=paused, failure_rate=failure_rate, waiting=waiting, backlog_age_s=oldest_age, interval_s=interval_s
    )
    body = {
        "status": "healthy" if score >= 80 else "degraded" if score >= HEALTHY_FROM else "unhealthy",
        "score": score,
        "penalties": penalties,
        "queue": {"name": QUEUE, "depth": depth, "waiting": waiting, "active": running, "paused": paused},
        "workers": {"up": len(workers), "names": workers},
        "recurring_job": job,
        "runs": {
            "recent": len(runs),
            "failed": failed,
            "failure_rate": round(failure_rate, 4),
            "last": (
                {
                    "id": last_run.pk,
                    "trigger": last_run.trigger,
                    "status": last_run.status,
                    "finished_at": last_run.finished_at.isoformat() if last_run.finished_at else None,
                }
                if last_run
                else None
            ),
        },
        "backlog": {
            "pending_slips_on_finished_events": backlog.slips,
            "oldest_age_s": round(oldest_age, 1) if oldest_age is not None else None,
            "interval_s": interval_s,
        },
        "time": now.isoformat(),
    }
    return Health(score=score, body=body)
