"""Prove the books: every check of `manage.py reconcile_ledger`, as set-based queries."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import connection

CHECKS: list[tuple[str, str]] = [
    (
        "unbalanced transactions",
        """SELECT transaction_id, currency, sum(amount) FROM ledger_posting
           GROUP BY transaction_id, currency HAVING sum(amount) <> 0 LIMIT 50""",
    ),
    (
        "transactions with fewer than two postings",
        """SELECT t.id, t.idempotency_key, count(p.id) FROM ledger_transaction t
           LEFT JOIN ledger_posting p ON p.transaction_id = t.id
           GROUP BY t.id HAVING count(p.id) < 2 LIMIT 50""",
    ),
    (
        "postings without their transaction or account, or in another currency",
        """SELECT p.id, p.transaction_id, p.account_id FROM ledger_posting p
           LEFT JOIN ledger_transaction t ON t.id = p.transaction_id
           LEFT JOIN ledger_account a ON a.id = p.account_id
           WHERE t.id IS NULL OR a.id IS NULL OR a.currency <> p.currency LIMIT 50""",
    ),
    (
        "user accounts whose stored balance differs from their postings",
        """SELECT a.id, a.kind, a.balance, COALESCE(s.total, 0) FROM ledger_account a
           LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_posting GROUP BY account_id) s
             ON s.account_id = a.id
           WHERE a.user_id IS NOT NULL AND a.balance <> COALESCE(s.total, 0) LIMIT 50""",
    ),
    (
        "wallets below zero or receivables above zero",
        """SELECT id, kind, balance FROM ledger_account
           WHERE (kind = 'wallet' AND balance < 0) OR (kind = 'receivable' AND balance > 0) LIMIT 50""",
    ),
    (
        "currencies whose postings do not sum to zero",
        "SELECT currency, sum(amount) FROM ledger_posting GROUP BY currency HAVING sum(amount) <> 0",
    ),
]


@dataclass
class ReconcileReport:
    breaks: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    transactions: int = 0
    postings: int = 0
    totals: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not self.breaks


def reconcile() -> ReconcileReport:
    report = ReconcileReport()
    with connection.cursor() as cursor:
        for name, query in CHECKS:
            cursor.execute(query)
            rows = cursor.fetchall()
            if rows:
                report.breaks[name] = [tuple(r) for r in rows]
        cursor.execute("SELECT count(*) FROM ledger_transaction")
        report.transactions = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM ledger_posting")
        report.postings = cursor.fetchone()[0]
        cursor.execute(
            """SELECT a.kind, a.currency, sum(p.amount) FROM ledger_posting p
               JOIN ledger_account a ON a.id = p.account_id GROUP BY a.kind, a.currency ORDER BY 2, 1"""
        )
        report.totals = {f"{currency} {kind}": int(total) for kind, currency, total in cursor.fetchall()}
    return report
