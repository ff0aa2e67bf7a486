"""What other parts of the platform may hook into without betting importing them.

Settlement sits above betting (`settlement -> betting`), so betting cannot call it; it registers
here instead (in its AppConfig.ready) and hears, after commit, of every event whose result was
recorded or corrected, whichever way the result came (feed sync, operator, admin), and of every
market an operator voided (its bets settle void without waiting for the event).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction

ResultHook = Callable[[int], None]
_result_hooks: list[ResultHook] = []


def on_result_recorded(hook: ResultHook) -> None:
    if hook not in _result_hooks:
        _result_hooks.append(hook)


def result_recorded(event_id: int) -> None:
    """Call inside the transaction that records the result: hooks run once it commits."""
    if not _result_hooks:
        return

    def run() -> None:
        for hook in _result_hooks:
            hook(event_id)

    transaction.on_commit(run)
