"""The user side of many settlements at once, honouring what each user owes.

`ledger.services.user_lines` answers for one user at a time (two queries and a lock each). A
settlement chunk pays thousands of users: `UserBooks` locks all their wallets and receivables in
one statement (id order, as the journal locks them, so no deadlock), then follows each balance as
the chunk's entries move it, applying the same rule: a credit pays the receivable off first and
lands in the wallet after; a debit (a resettlement's claw-back) takes the wallet to zero at most
and books the rest on the receivable. Inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.models import Account
from ledger.services import Line, receivable_for, wallet_for
from settlement.db import binary_cursor

# Every account of the users (all currencies: a user holds few), on the (user, kind, currency) index.
_LOCK = """
SELECT a.id, a.user_id, a.currency, a.kind, a.balance
FROM ledger_account a
WHERE a.user_id = ANY(%b::bigint[]) AND a.kind IN ('wallet', 'receivable')
ORDER BY a.id
FOR UPDATE
"""


class UserBooks:
    def __init__(self, pairs: Iterable[tuple[int, str]]) -> None:
        self._accounts: dict[tuple[int, str, str], list[int]] = {}  # (user, currency, kind) -> [id, balance]
        wanted = sorted(set(pairs))
        self._lock(wanted)
        missing = [
            (u, c)
            for u, c in wanted
            if (u, c, "wallet") not in self._accounts or (u, c, "receivable") not in self._accounts
        ]
        if missing:
            # Users made outside sign-up may lack an account: made now (new ids sort after every
            # locked one, so the id order holds), then locked like the rest.
            for user_id, currency in missing:
                wallet_for(user_id=user_id, currency=currency)
                receivable_for(user_id=user_id, currency=currency)
            self._lock(missing)

    def _lock(self, pairs: list[tuple[int, str]]) -> None:
        if not pairs:
            return
        cursor = binary_cursor()
        cursor.execute(_LOCK, [sorted({user_id for user_id, _ in pairs})], binary=True, prepare=False)
        for account_id, user_id, currency, kind, balance in cursor.fetchall():
            self._accounts[(user_id, currency, kind)] = [account_id, balance]

    def wallet_id(self, user_id: int, currency: str) -> int:
        return self._accounts[(user_id, currency, Account.Kind.WALLET)][0]

    def lines(self, *, user_id: int, currency: str, delta: int) -> list[Line]:
        """The user's side of a movement of `delta` (the counterpart lines are the caller's). A user
        whose movements are all zero (a lost slip) need not be among the books' users."""
        if not delta:
            return []
        wallet = self._accounts[(user_id, currency, "wallet")]
        receivable = self._accounts[(user_id, currency, "receivable")]
        lines: list[Line] = []
        if delta > 0:
            to_debt = min(-receivable[1], delta)
            if to_debt:
                lines.append(Line(receivable[0], to_debt, currency))
                receivable[1] += to_debt
            if delta - to_debt:
                lines.append(Line(wallet[0], delta - to_debt, currency))
                wallet[1] += delta - to_debt
        elif delta < 0:
            from_wallet = min(wallet[1], -delta)
            if from_wallet:
                lines.append(Line(wallet[0], -from_wallet, currency))
                wallet[1] -= from_wallet
            if -delta - from_wallet:
                lines.append(Line(receivable[0], -(-delta - from_wallet), currency))
                receivable[1] -= -delta - from_wallet
        return lines
