"""What other parts of the platform may hook into without betting importing them.

Settlement sits above betting (`settlement -> betting`), so betting cannot call it; it registers
here instead (in its AppConfig.ready) and hears, after commit, of every event whose result was
recorded or corrected, whichever way the result came (feed sync, operator, admin), and of every
market an operator voided (its bets settle void without waiting for the event); cashout hears
of markets whose prices moved.
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


# Prices moved or markets reopened: cashout re-prices the slips with legs there (auto-cashout).
OddsHook = Callable[[list[int]], None]
_odds_hooks: list[OddsHook] = []


def on_odds_changed(hook: OddsHook) -> None:
    if hook not in _odds_hooks:
        _odds_hooks.append(hook)


def odds_changed(market_ids: list[int]) -> None:
    """Call inside the transaction that reprices, suspends or reopens these markets: hooks run
    with the market ids once it commits."""
    if not _odds_hooks or not market_ids:
        return
    ids = sorted(set(market_ids))

    def run() -> None:
        for hook in _odds_hooks:
            hook(ids)

    transaction.on_commit(run)
