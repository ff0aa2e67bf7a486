"""Demo data for the payouts (idempotent): a daily schedule, payees on the fake Stripe's demo
accounts (one is rate limited then paid, one declines, one's bank returns the money), USD in the
players' wallets, and one queued withdrawal each. "Run payouts now" on the operator page
(/admin/payments/payoutrun/monitoring/) pays them through the fake Stripe."""

from __future__ import annotations

from typing import Any

from payments.models import Payee, Payout, PayoutSchedule
from payments.payouts.schedules import payout_schedule_store
from payments.payouts.services import payee_link, payout_request
from users.models import User

DEMO_ACCOUNTS = {
    "player1": "acct_1DemoFlaky",  # rate limited, then paid on retry (the sweep, 30 s later)
    "player2": "acct_1DemoClosed",  # declined: account_closed (the hold comes back, the payee is flagged)
    "player3": "acct_1DemoBankFails",  # paid, then the bank returns it (a signed payout.failed webhook)
}


def load_demo(stdout: Any) -> None:
    from ledger.services import deposit_record

    if not PayoutSchedule.objects.exists():
        payout_schedule_store(schedule=PayoutSchedule(name="daily", frequency="daily", hour=9, minute=0))
        stdout.write("payouts: daily schedule at 09:00 UTC")
    for username, account in DEMO_ACCOUNTS.items():
        user = User.objects.filter(username=username).first()
        if user is None:
            continue
        deposit_record(user_id=user.pk, currency="USD", amount=200_000, provider="seed", reference=f"{username}:USD")
        if not Payee.objects.filter(user=user).exists():
            payee_link(user_id=user.pk, stripe_account_id=account)
        if not Payout.objects.filter(user=user).exists():
            payout_request(user_id=user.pk, amount=5_000, currency="USD")
            stdout.write(f"payouts: {username} asked for a USD 50.00 withdrawal to {account}")
