"""A Hypothesis state machine over the ledger against a plain in-memory model.

Deposits, transfers (with a fee to a system account), overdrafts that must fail, key replays,
clashing keys and reversals with claw-backs, in any order. After every step, every invariant of
DESIGN.md holds (reconcile) and every wallet and receivable equals the model's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, rule

from core.errors import Conflict, InsufficientFunds
from ledger.models import Account
from ledger.reconcile import reconcile
from ledger.selectors import wallets_for_user
from ledger.services import Line, deposit_record, system_account, transaction_post, transaction_reverse, wallet_for
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

CURRENCY = "NGN"
amounts = st.integers(min_value=1, max_value=5_000)


@dataclass
class Posted:
    tx_id: int
    key: str
    lines: list[Line]
    deltas: dict[int, int]  # user index -> what the user's side moved by


class LedgerMachine(RuleBasedStateMachine):
    posted = Bundle("posted")

    def __init__(self) -> None:
        super().__init__()
        self.run = uuid.uuid4().hex[:8]
        self.users = [make_user(username=f"sm{self.run}u{i}") for i in range(3)]
        self.wallets = [wallet_for(user_id=u.pk, currency=CURRENCY).pk for u in self.users]
        self.fees = system_account(kind=Account.Kind.FEES, currency=CURRENCY).pk
        # The model: what each user holds and owes.
        self.held = [0, 0, 0]
        self.owed = [0, 0, 0]
        self.counter = 0

    def _key(self, what: str) -> str:
        self.counter += 1
        return f"sm:{self.run}:{what}:{self.counter}"

    def _credit(self, i: int, amount: int) -> None:
        to_debt = min(self.owed[i], amount)
        self.owed[i] -= to_debt
        self.held[i] += amount - to_debt

    def _debit_with_clawback(self, i: int, amount: int) -> None:
        from_wallet = min(self.held[i], amount)
        self.held[i] -= from_wallet
        self.owed[i] += amount - from_wallet

    @rule(target=posted, i=st.integers(0, 2), amount=amounts)
    def deposit(self, i: int, amount: int) -> Posted:
        ref = self._key("dep")
        tx = deposit_record(user_id=self.users[i].pk, currency=CURRENCY, amount=amount, provider="sm", reference=ref)
        self._credit(i, amount)
        return Posted(tx.pk, tx.idempotency_key, [], {i: amount})

    @rule(target=posted, src=st.integers(0, 2), dst=st.integers(0, 2), amount=amounts, fee=st.integers(0, 50))
    def transfer(self, src: int, dst: int, amount: int, fee: int) -> Posted:
        if src == dst or fee >= amount:
            dst = (src + 1) % 3
            fee = 0
        key = self._key("xfer")
        lines = [
            Line(self.wallets[src], -amount, CURRENCY),
            Line(self.wallets[dst], amount - fee, CURRENCY),
        ]
        if fee:
            lines.append(Line(self.fees, fee, CURRENCY))
        if self.held[src] < amount:
            with pytest.raises(InsufficientFunds):
                transaction_post(key=key, kind="transfer", lines=lines)
            return Posted(0, key, [], {})
        tx_id = transaction_post(key=key, kind="transfer", lines=lines)
        self.held[src] -= amount
        self.held[dst] += amount - fee
        return Posted(tx_id, key, lines, {src: -amount, dst: amount - fee})

    @rule(p=posted)
    def replay_same_lines(self, p: Posted) -> None:
        if not p.lines:
            return
        again = transaction_post(key=p.key, kind="transfer", lines=list(reversed(p.lines)))
        assert again == p.tx_id

    @rule(p=posted, extra=st.integers(1, 10))
    def clashing_key_is_refused(self, p: Posted, extra: int) -> None:
        if not p.lines:
            return
        changed = [Line(p.lines[0].account_id, p.lines[0].amount - extra, CURRENCY), Line(self.fees, extra, CURRENCY)]
        with pytest.raises(Conflict):
            transaction_post(key=p.key, kind="transfer", lines=[*changed, *p.lines[1:]])

    @rule(p=consumes(posted))
    def reverse(self, p: Posted) -> None:
        if not p.tx_id:
            return
        transaction_reverse(original_id=p.tx_id, reason="state machine")
        # Money the user received goes back first (claw-back); money they paid comes back.
        for i, delta in sorted(p.deltas.items(), key=lambda kv: kv[1], reverse=True):
            if delta > 0:
                self._debit_with_clawback(i, delta)
        for i, delta in p.deltas.items():
            if delta < 0:
                self._credit(i, -delta)

    @invariant()
    def books_reconcile(self) -> None:
        report = reconcile()
        assert report.clean, report.breaks

    @invariant()
    def balances_match_the_model(self) -> None:
        for i, user in enumerate(self.users):
            views = {w.currency: w for w in wallets_for_user(user_id=user.pk)}
            view = views[CURRENCY]
            assert (view.available, view.receivable) == (self.held[i], self.owed[i])


LedgerMachine.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.slow
def test_ledger_state_machine() -> None:
    LedgerMachine.TestCase("runTest").runTest()
