from django.conf import settings

from core.schedule import Periodic

PERIODIC_TASKS = [
    Periodic(
        name="chain-anchor-big-wins",
        task="ledger.tasks.anchor_big_wins",
        every_s=settings.LEDGER_ANCHOR_INTERVAL_S,
        queue="chain",
        description="Requests records for new big wins and anchors pending ones on BetLedger (LEDGER_BATCH_SIZE a run).",
    ),
    Periodic(
        name="chain-anchor-sweep",
        task="ledger.tasks.anchor_sweep",
        every_s=settings.LEDGER_CONFIRM_INTERVAL_S,
        queue="chain",
        description="Confirms mined chain records, replaces stuck transactions, sends due and retried ones.",
    ),
]
