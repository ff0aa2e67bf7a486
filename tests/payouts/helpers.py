"""Reads the payout tests assert on."""

from __future__ import annotations

from typing import Any


def wallet(user: Any, currency: str = "USD") -> int:
    from ledger.models import Account

    return int(Account.objects.get(user=user, kind="wallet", currency=currency).balance)


def receivable(user: Any, currency: str = "USD") -> int:
    from ledger.models import Account

    return int(Account.objects.get(user=user, kind="receivable", currency=currency).balance)


def system_balance(kind: str, currency: str = "USD") -> int:
    from ledger.models import Account
    from ledger.selectors import account_balance

    account = Account.objects.filter(kind=kind, currency=currency, user__isnull=True).first()
    return account_balance(account) if account else 0


def ledger_keys(payout: Any) -> list[str]:
    from ledger.models import Transaction

    return sorted(
        Transaction.objects.filter(idempotency_key__startswith=f"payout:{payout.pk}:").values_list(
            "idempotency_key", flat=True
        )
    )


def assert_books_clean() -> None:
    from ledger.reconcile import reconcile

    report = reconcile()
    assert report.clean, report.breaks
