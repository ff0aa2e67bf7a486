"""Races against the real database, with real threads: bets against the lock, and two settlers."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from betting.models import Round, RoundBet
from betting.rounds.payouts import settle_pool
from betting.rounds.services import round_bet_place, round_lock, round_open
from betting.rounds.settlement import round_settle
from core.errors import ApplicationError
from ledger.models import Transaction
from ledger.reconcile import reconcile
from tests.rounds.conftest import ny
from tests.rounds.helpers import balance

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_no_bet_is_accepted_after_the_lock(player: Callable[..., Any], time_machine: Any) -> None:
    time_machine.move_to(ny(2026, 3, 9, 15, 58), tick=True)  # the clock runs: the lock time is a minute away
    opened = round_open()
    players = [player(10_000_000) for _ in range(4)]
    locked = threading.Event()
    stop = threading.Event()
    accepted: list[tuple[int, bool]] = []  # (bet id, call started after the lock had committed)
    refused_after: list[str] = []
    errors: list[BaseException] = []

    def place(user: Any, side: str) -> None:
        try:
            while not stop.is_set():
                started_after_lock = locked.is_set()
                try:
                    placed = round_bet_place(user_id=user.pk, side=side, amount=1, idempotency_key=uuid.uuid4().hex)
                except ApplicationError as exc:
                    if not started_after_lock:
                        continue
                    refused_after.append(exc.code)
                else:
                    accepted.append((placed.pk, started_after_lock))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=place, args=(u, "UP" if i % 2 else "DOWN")) for i, u in enumerate(players)]
    for thread in threads:
        thread.start()
    time.sleep(0.8)
    round_lock(code=opened.code)
    locked.set()
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(30)

    assert not errors
    snapshot = Round.objects.get(pk=opened.pk)
    assert any(not after for _, after in accepted), "no bet got in before the lock: the race was not run"
    assert refused_after and set(refused_after) == {"round_not_open"}
    assert [bet_id for bet_id, after in accepted if after] == []
    # The pools summed in the lock's own transaction are every bet there will ever be.
    final = RoundBet.objects.filter(round=opened).aggregate(total=Sum("amount"))["total"]
    assert snapshot.up_pool + snapshot.down_pool == final == len(accepted)
    assert balance("bets_escrow") == final
    assert reconcile().clean


def test_two_settlers_pay_each_bet_once(player: Callable[..., Any], time_machine: Any, settings: Any) -> None:
    time_machine.move_to(ny(2026, 3, 7, 12), tick=False)
    opened = round_open()
    users = [player(1_000_000) for _ in range(6)]
    for i, user in enumerate(users):
        for j in range(5):
            round_bet_place(
                user_id=user.pk,
                side="UP" if (i + j) % 3 else "DOWN",
                amount=1_000 + 7 * i + j,
                idempotency_key=f"{i}-{j}",
            )
    round_lock(code=opened.code)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def settle() -> None:
        try:
            outcomes.append(round_settle(code=opened.code, result="UP", by="operator:ops", chunk=4).state)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=settle) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert not errors
    assert sorted(outcomes) in (["already", "settled"], ["settled", "settled"])
    bets = list(RoundBet.objects.filter(round=opened))
    expected = settle_pool(stakes=[(b.pk, b.side, b.amount) for b in bets], result="UP", fee_bps=100)
    assert {b.pk: b.payout for b in bets} == expected.payouts
    winners = sum(1 for b in bets if b.side == "UP")
    assert Transaction.objects.filter(kind="round_payout").count() == winners
    assert Transaction.objects.filter(kind="round_fee").count() == 1
    assert balance("bets_escrow") == 0
    assert reconcile().clean
