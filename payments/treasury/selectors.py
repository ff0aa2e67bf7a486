from __future__ import annotations

from django.db.models import QuerySet

from core.errors import NotFound
from payments.models import BankTransaction, VirtualAccount


def virtual_account_for_user(*, user_id: int) -> VirtualAccount:
    account = VirtualAccount.objects.filter(user_id=user_id).first()
    if account is None:
        raise NotFound("You have no virtual account yet: POST /api/treasury/accounts makes one.", code="no_account")
    return account


def deposits_for_user(*, user_id: int) -> QuerySet[BankTransaction]:
    return BankTransaction.objects.filter(user_id=user_id).order_by("-id")
