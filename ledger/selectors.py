"""Reads of the ledger."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet, Sum

from ledger.models import Account, Posting


@dataclass(frozen=True)
class WalletView:
    currency: str
    available: int
    receivable: int  # what the user owes, as a positive number


def wallets_for_user(*, user_id: int) -> list[WalletView]:
    rows: dict[str, dict[str, int]] = {}
    for kind, currency, balance in Account.objects.filter(user_id=user_id).values_list("kind", "currency", "balance"):
        rows.setdefault(currency, {"wallet": 0, "receivable": 0})[kind] = balance
    return [WalletView(c, v["wallet"], -v["receivable"]) for c, v in sorted(rows.items())]


def account_balance(account: Account) -> int:
    """User accounts keep their balance on the row; system accounts are the sum of postings."""
    if account.is_user_account:
        return account.balance
    return int(Posting.objects.filter(account_id=account.pk).aggregate(s=Sum("amount"))["s"] or 0)


def user_postings(*, user_id: int, currency: str) -> QuerySet[Posting]:
    return (
        Posting.objects.filter(account__user_id=user_id, currency=currency)
        .select_related("transaction", "account")
        .order_by("-id")
    )
