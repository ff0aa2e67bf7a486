"""A Hypothesis state machine over top-ups: any sequence of requests, passing time, sweeps,
queries, callbacks' hints and operator refunds keeps the money right and sends each payment once.

Invariants after every step: the wallet equals what was funded minus the amounts of top-ups that
are not failed; `topup_clearing` holds exactly those amounts; a top-up is refunded if and only if
it failed; the provider saw each payment request at most once; the ledger reconciles.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from core.errors import ApplicationError
from ledger.models import Transaction
from ledger.reconcile import reconcile
from payments.models import TopUp
from payments.topup.services import topup_query, topup_refund, topup_request
from payments.topup.sweep import topup_sweep
from tests.payments_in.conftest import clearing, wallet

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
FUNDED = 5_000_000
# Fake Selcom outcomes by the number's last digits (tests/fakes/selcom.py); 0006 (slow) left out for speed.
SUFFIXES = ["0000", "0001", "0002", "0003", "0004", "0005", "0007", "0008"]


def test_top_up_state_machine(make_user: Any, fund: Any, selcom: Any) -> None:
    class TopUps(RuleBasedStateMachine):
        topups = Bundle("topups")

        def __init__(self) -> None:
            super().__init__()
            self.traveller = time_machine.travel(START, tick=False)
            self.clock = self.traveller.start()
            self.user = make_user(currency="NGN")
            fund(self.user, FUNDED, "NGN")
            self.keys = 0

        def teardown(self) -> None:
            self.traveller.stop()

        @rule(target=topups, suffix=st.sampled_from(SUFFIXES), naira=st.sampled_from([50, 1_000, 20_000]))
        def request(self, suffix: str, naira: int) -> Any:
            self.keys += 1
            try:
                topup = topup_request(
                    user_id=self.user.pk,
                    phone=f"+234803123{suffix}",
                    carrier="mtn",
                    kind="airtime",
                    amount=naira * 100,
                    client_key=f"m{self.keys}",
                )
            except ApplicationError as exc:
                assert exc.code in ("insufficient_funds", "topup_daily_limit"), exc.code
                return multiple()
            return topup.pk

        @rule(seconds=st.sampled_from([20, 90, 181, 400]))
        def time_passes(self, seconds: int) -> None:
            self.clock.shift(timedelta(seconds=seconds))

        @rule()
        def sweep_and_query(self) -> None:
            for topup_id in topup_sweep().due:
                topup_query(topup_id=topup_id)

        @rule(topup_id=topups)
        def query_now(self, topup_id: int) -> None:
            topup_query(topup_id=topup_id, force=True)

        @rule(topup_id=consumes(topups))
        def operator_refund(self, topup_id: int) -> None:
            try:
                topup_refund(topup_id=topup_id, operator="machine")
            except ApplicationError as exc:
                assert exc.code in ("topup_final", "topup_in_flight"), exc.code

        @invariant()
        def money_is_right(self) -> None:
            rows = list(TopUp.objects.filter(user=self.user))
            kept = sum(t.amount for t in rows if t.status != "failed")
            assert wallet(self.user) == FUNDED - kept
            # Across every top-up (earlier examples' too, which this example's sweeps may settle).
            assert clearing("topup_clearing") == sum(
                TopUp.objects.exclude(status="failed").values_list("amount", flat=True)
            )
            for t in rows:
                refunds = Transaction.objects.filter(idempotency_key=f"topup:{t.pk}:refund").count()
                assert refunds == (1 if t.status == "failed" else 0), (t.pk, t.status, refunds)
                assert t.status in ("succeeded", "failed", "processing"), t.status  # never left held or sending

        @invariant()
        def each_payment_sent_at_most_once(self) -> None:
            seen = selcom.get("/_fake/transactions")
            assert all(p["process_calls"] == 1 for p in seen.values())

        @invariant()
        def books_balance(self) -> None:
            assert reconcile().clean

    run_state_machine_as_test(
        TopUps,
        settings=settings(
            max_examples=5,
            stateful_step_count=10,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
