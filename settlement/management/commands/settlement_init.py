"""Write settlement's recurring job to the schedule and print the queue's statistics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from core.management.commands.setup_periodic_tasks import write_schedule
from settlement.health import broker_queue_depth, recurring_job, workers_up
from settlement.schedule import PERIODIC_TASKS
from settlement.selectors import run_counts


class Command(BaseCommand):
    help = "Write the sync-and-settle schedule (idempotent) and print queue statistics (waiting, active, failed)."

    def handle(self, *args: Any, **options: Any) -> None:
        for line in write_schedule(PERIODIC_TASKS):
            self.stdout.write(line)
        now = timezone.now()
        job = recurring_job(now)
        self.stdout.write(
            f"recurring job {job['name']}: {'enabled' if job['enabled'] else 'DISABLED'}, every {job.get('every_s')} s, "
            f"last run {job['last_run'] or 'never'}, next {job['next_run'] or '?'}"
        )
        counts = run_counts(since=now - timedelta(hours=24))
        depth = broker_queue_depth()
        workers = workers_up()
        self.stdout.write(
            f"queue settlement: waiting {depth if depth is not None else '? (broker unreachable)'} message(s), "
            f"runs queued {counts['queued']}, retrying {counts['retrying']}, active {counts['running']}"
        )
        self.stdout.write(f"last 24 h: succeeded {counts['succeeded']}, failed {counts['failed']}")
        self.stdout.write(f"workers up: {len(workers)}" + (f" ({', '.join(workers)})" if workers else ""))
