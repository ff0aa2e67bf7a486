from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Sum

from betting.models import RoundBet
from betting.rounds.services import round_bet_place
from ledger.models import Account, Posting
from ledger.services import system_account


def bet(user: Any, side: str, amount: int, code: str | None = None) -> RoundBet:
    return round_bet_place(user_id=user.pk, side=side, amount=amount, idempotency_key=uuid.uuid4().hex, code=code)


def balance(kind: str, currency: str = "USDC") -> int:
    account = system_account(kind=kind, currency=currency)
    return int(Posting.objects.filter(account=account).aggregate(s=Sum("amount"))["s"] or 0)


def wallet(user: Any, currency: str = "USDC") -> int:
    return Account.objects.get(user=user, kind="wallet", currency=currency).balance
