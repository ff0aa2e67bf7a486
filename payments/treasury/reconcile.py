"""Bank transactions against the ledger. (Wema documents no statement API to compare with.)"""

from __future__ import annotations

from django.db import connection

from payments.topup.reconcile import Difference
from payments.treasury.adapters import PROVIDERS

_CHECKS = [
    (
        "bank transaction not credited by its amount",
        """SELECT id, ref, amount, credited FROM (
               SELECT b.id, b.provider || ':' || b.reference AS ref, b.amount,
                      COALESCE((SELECT -sum(p.amount) FROM ledger_posting p
                                JOIN ledger_account a ON a.id = p.account_id AND a.kind = 'bank_clearing'
                                WHERE p.transaction_id = b.ledger_transaction_id), 0) AS credited
               FROM payments_banktransaction b) x
           WHERE credited <> amount""",
    ),
    (
        "bank deposit in the ledger without a bank transaction",
        """SELECT t.id, t.idempotency_key, t.reference, '-' FROM ledger_transaction t
           WHERE t.kind = 'deposit' AND t.idempotency_key LIKE ANY(%s)
             AND NOT EXISTS (SELECT 1 FROM payments_banktransaction b WHERE b.ledger_transaction_id = t.id)""",
    ),
]


def treasury_reconcile() -> list[Difference]:
    patterns = [f"deposit:{provider}:%" for provider in PROVIDERS]
    differences: list[Difference] = []
    with connection.cursor() as cursor:
        for name, sql in _CHECKS:
            cursor.execute(sql, [patterns] if "%s" in sql else [])
            for row_id, ref, ours, theirs in cursor.fetchall():
                differences.append(Difference(f"{name}: #{row_id} {ref}", str(ours), str(theirs)))
    return differences
