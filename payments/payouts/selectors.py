"""Reads of payouts: a user's withdrawals, what is due, runs and alerts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import Q, QuerySet

from payments.models import Payee, Payout, PayoutAlert, PayoutRun
from payments.payouts.config import thresholds_minor


def payouts_for_user(*, user_id: int) -> QuerySet[Payout]:
    return Payout.objects.filter(user_id=user_id).order_by("-id")


def payee_for_user(*, user_id: int) -> Payee | None:
    return Payee.objects.filter(user_id=user_id).first()


def due_payouts(*, now: datetime, min_threshold: Decimal | str, only_retries: bool = False) -> QuerySet[Payout]:
    """Queued payouts whose time has come, in the order a run takes them.

    A payout at or above the threshold is due; one already tried stays due whatever the
    threshold (its retries must finish). A flagged payee's untried payouts wait for an operator.
    """
    above = Q()
    for currency, minimum in thresholds_minor(min_threshold).items():
        above |= Q(currency=currency, amount__gte=minimum)
    queryset = Payout.objects.filter(status=Payout.Status.QUEUED, next_attempt_at__lte=now).filter(
        Q(attempts__gt=0) | (above & Q(payee__status=Payee.Status.ACTIVE))
    )
    if only_retries:
        queryset = queryset.filter(attempts__gt=0)
    return queryset.order_by("next_attempt_at", "id")


def runs_recent(*, limit: int = 20) -> QuerySet[PayoutRun]:
    return PayoutRun.objects.order_by("-started_at", "-id")[:limit]


def alerts_active() -> QuerySet[PayoutAlert]:
    return PayoutAlert.objects.exclude(status=PayoutAlert.Status.RESOLVED).order_by("-created_at", "-id")
