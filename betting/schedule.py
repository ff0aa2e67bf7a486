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
]
