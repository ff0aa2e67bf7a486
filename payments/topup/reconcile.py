"""Top-ups against the provider and the ledger: what `manage.py reconcile_payments` lists."""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from ledger.models import Account, Transaction
from ledger.selectors import account_balance
from ledger.services import system_account
from payments.models import TopUp
from payments.topup.adapters import Outcome, topup_provider
from payments.topup.services import topup_query


@dataclass(frozen=True)
class Difference:
    subject: str
    ours: str
    theirs: str
    note: str = ""


def topup_reconcile(*, resolve: bool = False) -> list[Difference]:
    """One provider query per open top-up, plus the ledger's side of every top-up.

    With `resolve`, a PROCESSING top-up the provider has settled is settled here too (through
    the same query service the sweep uses), and listed with what was done.
    """
    differences: list[Difference] = []
    now = timezone.now()
    sla = timedelta(seconds=settings.SELCOM_SLA_S)
    grace = timedelta(seconds=settings.TOPUP_SEND_GRACE_S)
    in_flight = grace + timedelta(seconds=settings.SELCOM_TIMEOUT_S)
    open_topups = TopUp.objects.filter(status__in=TopUp.OPEN).order_by("pk")
    with closing(topup_provider()) as provider:
        for topup in open_topups:
            subject = f"top-up {topup.pk} {topup.transid}"
            if topup.status == TopUp.Status.HELD:
                if topup.created_at <= now - grace:
                    differences.append(Difference(subject, "held", "-", "never sent; the sweep refunds it"))
                continue
            if topup.status == TopUp.Status.SENDING and (topup.submitted_at or now) > now - in_flight:
                continue  # the request is on the wire right now: its own answer will settle it
            result = provider.query(transid=topup.transid)
            if result.outcome in (Outcome.SUCCESS, Outcome.FAILED):
                note = ""
                if resolve and topup.status == TopUp.Status.PROCESSING:
                    note = f"resolved: now {topup_query(topup_id=topup.pk, force=True).status}"
                differences.append(
                    Difference(subject, topup.status, f"{result.outcome.value} ({result.result_code})", note)
                )
            elif topup.created_at <= now - sla:
                differences.append(
                    Difference(
                        subject,
                        topup.status,
                        f"{result.outcome.value} ({result.result_code or result.message})",
                        "unresolved past the SLA",
                    )
                )

    # The ledger: topup_clearing holds exactly what open and succeeded top-ups hold.
    for currency in TopUp.objects.values_list("currency", flat=True).distinct():
        expected = (
            TopUp.objects.filter(currency=currency).exclude(status=TopUp.Status.FAILED).aggregate(s=Sum("amount"))["s"]
            or 0
        )
        actual = account_balance(system_account(kind=Account.Kind.TOPUP_CLEARING, currency=currency))
        if actual != expected:
            differences.append(
                Difference(f"topup_clearing {currency}", str(actual), str(expected), "ledger vs open+succeeded top-ups")
            )
    holds = Transaction.objects.filter(kind="topup_hold").count()
    if holds != TopUp.objects.count():
        differences.append(Difference("top-up holds", f"{holds} ledger holds", f"{TopUp.objects.count()} top-ups"))
    return differences
