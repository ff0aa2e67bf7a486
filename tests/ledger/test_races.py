"""Races against the real database, with real threads and their own connections."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection

from core.errors import InsufficientFunds
from ledger.models import Account
from ledger.reconcile import reconcile
from ledger.services import Line, system_account, transaction_post, wallet_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_double_spend_race_32_threads(make_user: Any, fund: Any) -> None:
    """A wallet holding 1,000; 32 threads each try 20 debits of 100: exactly 10 succeed."""
    user = make_user()
    fund(user, 1_000)
    wallet = wallet_for(user_id=user.pk, currency="NGN").pk
    house = system_account(kind=Account.Kind.HOUSE, currency="NGN").pk
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(32)

    def spend(thread: int) -> None:
        start.wait()
        try:
            for attempt in range(20):
                try:
                    transaction_post(
                        key=f"race:{thread}:{attempt}",
                        kind="spend",
                        lines=[Line(wallet, -100, "NGN"), Line(house, 100, "NGN")],
                    )
                    result = "ok"
                except InsufficientFunds:
                    result = "insufficient_funds"
                with lock:
                    outcomes[result] += 1
        finally:
            connection.close()

    threads = [threading.Thread(target=spend, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes == {"ok": 10, "insufficient_funds": 630}
    assert Account.objects.get(pk=wallet).balance == 0
    assert reconcile().clean
