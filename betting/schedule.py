"""Periodic tasks of the betting app (written to django-celery-beat by setup_periodic_tasks)."""

from __future__ import annotations

from django.conf import settings

from core.schedule import Periodic

PERIODIC_TASKS = [
    Periodic(
        name="sportsbook-sync-events",
        task="betting.tasks.sync_events",
        every_s=settings.SPORTSGAMEODDS_SYNC_INTERVAL_S,
        description="Fixtures, odds and results from SportsGameOdds (the local fake when no API key is set).",
    ),
    Periodic(
        name="sportsbook-live-bets-sweep",
        task="betting.tasks.live_bets_sweep",
        every_s=settings.LIVE_BET_SWEEP_S,
        description="Accepts or rejects live bets whose delay has passed, if their own task was lost.",
    ),
    # Up/Down rounds
    Periodic(
        name="rounds-open-next",
        task="betting.tasks.rounds_open_next",
        every_s=300,
        description="Opens the Up/Down round that takes bets now (the next NYSE trading day after a lock).",
    ),
    Periodic(
        name="rounds-lock-due",
        task="betting.tasks.rounds_lock_due",
        every_s=5,
        description="Locks open Up/Down rounds at their lock time (bets are refused from then anyway).",
    ),
    Periodic(
        name="rounds-settle-due",
        task="betting.tasks.rounds_settle_due",
        every_s=30,
        queue="settlement",
        description="From close + CLOSE_FETCH_DELAY_MIN, settles Up/Down rounds; retries until SETTLE_GRACE_MIN.",
    ),
]
