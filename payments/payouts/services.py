"""Writes of the payout lifecycle: payees, withdrawals, decisions, and what Stripe's answers do.

Money moves only here, each movement a ledger entry keyed by the payout:
- hold    `payout:<id>:hold`         wallet -> payout_clearing (with the payout row, before any call);
- paid    `payout:<id>:paid`         payout_clearing -> bank_clearing: the money left the platform.
          bank_clearing stands for the platform's money held outside the ledger (deposits debit
          it, payouts credit it), so its balance stays the mirror of the cash outside;
- back    `payout:<id>:paid:reverse` undoes `paid` when a paid payout comes back, then
          `payout:<id>:reverse`       reverses the hold: payout_clearing -> the user through
          `user_lines`, so an open receivable is paid off first.
Every status change is a compare-and-set on the old status; a lost race changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from core.errors import ApplicationError, Conflict, InsufficientFunds, NotFound, ValidationFailed
from ledger.currencies import get_currency, validate_amount
from ledger.models import Account, Transaction
from ledger.services import (
    Entry,
    Line,
    entries_post,
    entry_post,
    receivable_for,
    reversal_post,
    system_account,
    wallet_for,
)
from payments.models import Payee, Payout
from payments.payouts.config import limits_for
from realtime.outbox import event_emit

log = structlog.get_logger(__name__)

ACCOUNT_ID = re.compile(r"^acct_[A-Za-z0-9]{1,60}$")
S = Payout.Status


# --- Payees -----------------------------------------------------------------------------------


def payee_link(*, user_id: int, stripe_account_id: str) -> Payee:
    """Link (or change) the user's Stripe connected account. A flag stays until an operator clears it."""
    account = stripe_account_id.strip()
    if not ACCOUNT_ID.match(account):
        raise ValidationFailed(
            "A Stripe connected account id looks like acct_1A2b3C.",
            code="invalid_stripe_account",
            details={"stripe_account_id": stripe_account_id},
        )
    now = timezone.now()
    with transaction.atomic():
        try:
            with transaction.atomic():
                return Payee.objects.create(user_id=user_id, stripe_account_id=account, created_at=now, updated_at=now)
        except IntegrityError:
            pass  # already linked: change it below
        Payee.objects.filter(user_id=user_id).update(stripe_account_id=account, updated_at=now)
        return Payee.objects.get(user_id=user_id)


def payee_flag(*, payee_id: int, code: str, reason: str) -> None:
    """Stop paying a payee until an operator fixes the destination (inside the caller's transaction)."""
    now = timezone.now()
    Payee.objects.filter(pk=payee_id).update(
        status=Payee.Status.FLAGGED, flag_code=code[:64], flag_reason=reason[:255], flagged_at=now, updated_at=now
    )
    log.warning("payouts.payee_flagged", payee=payee_id, code=code)


def payee_flag_clear(*, payee_id: int, operator_id: int) -> Payee:
    with transaction.atomic(durable=True):
        updated = Payee.objects.filter(pk=payee_id, status=Payee.Status.FLAGGED).update(
            status=Payee.Status.ACTIVE, flag_code="", flag_reason="", flagged_at=None, updated_at=timezone.now()
        )
        if not updated and not Payee.objects.filter(pk=payee_id).exists():
            raise NotFound("No such payee.")
    log.info("payouts.payee_flag_cleared", payee=payee_id, operator=operator_id)
    return Payee.objects.get(pk=payee_id)


# --- Withdrawals ------------------------------------------------------------------------------


def _window_total(*, user_id: int, currency: str, since: datetime) -> int:
    total = Payout.objects.filter(
        user_id=user_id, currency=currency, status__in=Payout.LIVE, created_at__gte=since
    ).aggregate(s=Sum("amount"))["s"]
    return int(total or 0)


def payout_request(*, user_id: int, amount: int, currency: str) -> Payout:
    """A withdrawal: hold the money (wallet -> payout_clearing) and queue it, or wait for approval."""
    from django.conf import settings

    validate_amount(amount)
    get_currency(currency)
    if currency not in settings.PAYOUT_CURRENCIES:
        raise ValidationFailed(
            f"Withdrawals are not offered in {currency}.",
            code="currency_not_supported",
            details={"supported": list(settings.PAYOUT_CURRENCIES)},
        )
    limits = limits_for(currency)
    if amount < limits.minimum:
        raise ApplicationError(
            "The amount is below the minimum withdrawal.", code="below_minimum", details={"minimum": limits.minimum}
        )
    if amount > limits.per_payout:
        raise ApplicationError(
            "The amount is above the limit per withdrawal.",
            code="payout_limit_exceeded",
            details={"limit": limits.per_payout},
        )
    payee = Payee.objects.filter(user_id=user_id).first()
    if payee is None:
        raise ApplicationError("Link a payout destination first.", code="no_payout_destination")
    if payee.status == Payee.Status.FLAGGED:
        raise ApplicationError(
            "Your payout destination needs attention from our team.",
            code="payout_destination_flagged",
            details={"reason": payee.flag_code},
        )

    now = timezone.now()
    with transaction.atomic(durable=True):
        wallet = wallet_for(user_id=user_id, currency=currency)
        receivable = receivable_for(user_id=user_id, currency=currency)
        # Locking the user's accounts serialises their withdrawals, so the limits below hold.
        balances = {
            a.pk: a.balance
            for a in Account.objects.select_for_update().filter(pk__in=[wallet.pk, receivable.pk]).order_by("pk")
        }
        if balances[receivable.pk] < 0:
            raise ApplicationError(
                "Withdrawals are closed while you owe money to the platform.",
                code="receivable_open",
                details={"owed": -balances[receivable.pk]},
            )
        if balances[wallet.pk] < amount:
            raise InsufficientFunds(
                "The wallet does not hold enough money.", details={"available": balances[wallet.pk], "required": amount}
            )
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month_start = day_start.replace(day=1)
        if _window_total(user_id=user_id, currency=currency, since=day_start) + amount > limits.per_day:
            raise ApplicationError(
                "This withdrawal would pass your daily limit.",
                code="daily_limit_exceeded",
                details={"limit": limits.per_day},
            )
        if _window_total(user_id=user_id, currency=currency, since=month_start) + amount > limits.per_month:
            raise ApplicationError(
                "This withdrawal would pass your monthly limit.",
                code="monthly_limit_exceeded",
                details={"limit": limits.per_month},
            )
        needs_approval = amount > limits.approval_above
        payout = Payout.objects.create(
            user_id=user_id,
            payee=payee,
            amount=amount,
            currency=currency,
            status=S.AWAITING_APPROVAL if needs_approval else S.QUEUED,
            queued_at=None if needs_approval else now,
            next_attempt_at=None if needs_approval else now,
            created_at=now,
            updated_at=now,
        )
        clearing = system_account(kind=Account.Kind.PAYOUT_CLEARING, currency=currency)
        tx_id = entry_post(
            Entry(
                key=f"payout:{payout.pk}:hold",
                kind="payout_hold",
                lines=[Line(wallet.pk, -amount, currency), Line(clearing.pk, amount, currency)],
                reference=f"payout:{payout.pk}",
                description="Withdrawal held for payout",
                metadata={"payout": payout.pk, "user": user_id},
            )
        )
        _balance_event(payout, reason="withdrawal", transaction_id=tx_id, amount=-amount)
    log.info("payouts.requested", payout=payout.pk, amount=amount, currency=currency, approval=needs_approval)
    return payout


def _balance_event(payout: Payout, *, reason: str, transaction_id: int, amount: int) -> None:
    event_emit(
        type="balance.updated",
        user_id=payout.user_id,
        data={
            "currency": payout.currency,
            "reason": reason,
            "transaction": transaction_id,
            "amount": amount,
            "payout": payout.pk,
        },
    )


def _cas(payout_id: int, old: Iterable[str], new: str, **fields: Any) -> bool:
    """Move a payout from one of `old` to `new`; False when it was in none of them."""
    olds = list(old)
    for status in olds:
        if new not in Payout.TRANSITIONS[status]:
            raise ValueError(f"payout transition {status} -> {new} is not allowed")
    return bool(
        Payout.objects.filter(pk=payout_id, status__in=olds).update(status=new, updated_at=timezone.now(), **fields)
    )


def _conflict(payout_id: int, action: str) -> ApplicationError:
    status = Payout.objects.filter(pk=payout_id).values_list("status", flat=True).first()
    if status is None:
        return NotFound("No such withdrawal.")
    return Conflict(f"The withdrawal cannot be {action} now.", code="invalid_state", details={"status": status})


def payout_approve(*, payout_id: int, approver_id: int) -> Payout:
    """Maker-checker: an operator who is not the requester releases a large withdrawal."""
    payout = Payout.objects.filter(pk=payout_id).first()
    if payout is None:
        raise NotFound("No such withdrawal.")
    if payout.user_id == approver_id:
        raise ApplicationError("A withdrawal is approved by someone other than its requester.", code="same_approver")
    now = timezone.now()
    with transaction.atomic(durable=True):
        if not _cas(
            payout_id,
            [S.AWAITING_APPROVAL],
            S.QUEUED,
            approved_by_id=approver_id,
            approved_at=now,
            queued_at=now,
            next_attempt_at=now,
        ):
            raise _conflict(payout_id, "approved")
    log.info("payouts.approved", payout=payout_id, approver=approver_id)
    return Payout.objects.get(pk=payout_id)


def payout_reject(*, payout_id: int, operator_id: int, note: str = "") -> Payout:
    with transaction.atomic(durable=True):
        if not _cas(
            payout_id,
            [S.AWAITING_APPROVAL],
            S.REJECTED,
            approved_by_id=operator_id,
            approved_at=timezone.now(),
            decided_note=note[:255],
            failure_code="rejected",
            failed_at=timezone.now(),
        ):
            raise _conflict(payout_id, "rejected")
        return_hold_in_tx(payout_id=payout_id, reason="withdrawal rejected")
    return Payout.objects.get(pk=payout_id)


def payout_cancel(*, payout_id: int, user_id: int) -> Payout:
    """The user takes back a withdrawal that was never sent to Stripe."""
    if not Payout.objects.filter(pk=payout_id, user_id=user_id).exists():
        raise NotFound("No such withdrawal.")
    with transaction.atomic(durable=True):
        updated = Payout.objects.filter(pk=payout_id, attempts=0, status__in=[S.AWAITING_APPROVAL, S.QUEUED]).update(
            status=S.CANCELED, failure_code="canceled", failed_at=timezone.now(), updated_at=timezone.now()
        )
        if not updated:
            raise _conflict(payout_id, "canceled")
        return_hold_in_tx(payout_id=payout_id, reason="withdrawal canceled")
    return Payout.objects.get(pk=payout_id)


# --- Money helpers (inside the caller's transaction) ------------------------------------------


def return_hold_in_tx(*, payout_id: int, reason: str) -> int:
    """`payout:<id>:reverse`: the held money back to the user, paying a receivable first."""
    payout = Payout.objects.get(pk=payout_id)
    hold_id = Transaction.objects.values_list("pk", flat=True).get(idempotency_key=f"payout:{payout_id}:hold")
    tx_id = reversal_post(original_id=hold_id, reason=reason, key=f"payout:{payout_id}:reverse")
    _balance_event(payout, reason="withdrawal_returned", transaction_id=tx_id, amount=payout.amount)
    return tx_id


@dataclass(frozen=True)
class PaidAccounts:
    """The two system accounts a paid payout moves money between, for one currency."""

    clearing: int
    outside: int


def paid_accounts(currency: str) -> PaidAccounts:
    return PaidAccounts(
        clearing=system_account(kind=Account.Kind.PAYOUT_CLEARING, currency=currency).pk,
        outside=system_account(kind=Account.Kind.BANK_CLEARING, currency=currency).pk,
    )


def _paid_entry(*, payout_id: int, amount: int, currency: str, transfer_id: str, accounts: PaidAccounts) -> Entry:
    return Entry(
        key=f"payout:{payout_id}:paid",
        kind="payout_paid",
        lines=[Line(accounts.clearing, -amount, currency), Line(accounts.outside, amount, currency)],
        reference=f"payout:{payout_id}",
        description="Payout sent through Stripe",
        metadata={"payout": payout_id, "transfer": transfer_id},
    )


def _post_paid(*, payout_id: int, amount: int, currency: str, transfer_id: str, accounts: PaidAccounts | None) -> int:
    accounts = accounts or paid_accounts(currency)
    return entry_post(
        _paid_entry(payout_id=payout_id, amount=amount, currency=currency, transfer_id=transfer_id, accounts=accounts)
    )


def mark_paid_in_tx(
    *,
    payout_id: int,
    transfer_id: str,
    old: Iterable[str],
    money: tuple[int, str] | None = None,
    accounts: PaidAccounts | None = None,
    **fields: Any,
) -> bool:
    """PAID, and `payout:<id>:paid`. A batch run passes the amount and the accounts it knows."""
    now = timezone.now()
    values: dict[str, Any] = {"paid_at": now, "claimed_at": None, "next_attempt_at": None, **fields}
    if transfer_id:
        values["stripe_transfer_id"] = transfer_id
    if not _cas(payout_id, old, S.PAID, **values):
        return False
    amount, currency = money or Payout.objects.values_list("amount", "currency").get(pk=payout_id)
    _post_paid(payout_id=payout_id, amount=amount, currency=currency, transfer_id=transfer_id, accounts=accounts)
    return True


def mark_failed_in_tx(
    *, payout_id: int, code: str, message: str, flag_payee: bool, old: Iterable[str], **fields: Any
) -> bool:
    """Fail a payout for good and give the hold back (and flag the payee on a permanent code)."""
    now = timezone.now()
    if not _cas(
        payout_id,
        old,
        S.FAILED,
        failure_code=code[:64],
        failure_message=message[:500],
        failed_at=now,
        claimed_at=None,
        next_attempt_at=None,
        **fields,
    ):
        return False
    return_hold_in_tx(payout_id=payout_id, reason=f"payout failed: {code}")
    if flag_payee:
        payout = Payout.objects.get(pk=payout_id)
        payee_flag(payee_id=payout.payee_id, code=code, reason=message or code)
    return True


def return_paid_in_tx(*, payout_id: int, code: str, message: str, flag_payee: bool, reverse_transfer: bool) -> bool:
    """A paid payout came back (bank payout failed, transfer reversed): the money returns."""
    if not _cas(
        payout_id,
        [S.PAID],
        S.FAILED,
        failure_code=code[:64],
        failure_message=message[:500],
        failed_at=timezone.now(),
        failed_after_paid=True,
        transfer_reversal_pending=reverse_transfer,
    ):
        return False
    paid_id = Transaction.objects.values_list("pk", flat=True).get(idempotency_key=f"payout:{payout_id}:paid")
    reversal_post(original_id=paid_id, reason=f"paid payout came back: {code}", key=f"payout:{payout_id}:paid:reverse")
    return_hold_in_tx(payout_id=payout_id, reason=f"paid payout came back: {code}")
    payout = Payout.objects.get(pk=payout_id)
    if flag_payee:
        payee_flag(payee_id=payout.payee_id, code=code, reason=message or code)
    if reverse_transfer:
        from payments.payouts.tasks import payout_transfer_reversal

        transaction.on_commit(lambda: payout_transfer_reversal.delay(payout_id))
    return True


# --- Outcomes of one attempt (each in its own transaction) ------------------------------------


def payout_record_paid(
    *,
    payout_id: int,
    transfer_id: str,
    elapsed_ms: int | None = None,
    money: tuple[int, str] | None = None,
    accounts: PaidAccounts | None = None,
) -> bool:
    with transaction.atomic(durable=True):
        return mark_paid_in_tx(
            payout_id=payout_id,
            transfer_id=transfer_id,
            old=[S.PROCESSING],
            money=money,
            accounts=accounts,
            last_attempt_ms=elapsed_ms,
            last_error_code="",
            last_error_message="",
        )


@dataclass(frozen=True)
class PaidTransfer:
    payout_id: int
    amount: int
    currency: str
    transfer_id: str
    elapsed_ms: int | None


def payouts_record_paid_bulk(*, paid: Sequence[PaidTransfer], accounts: dict[str, PaidAccounts]) -> set[int]:
    """Record many transfers Stripe made, in one transaction: PROCESSING -> PAID by one set-based
    compare-and-set, and the `payout:<id>:paid` entries of those it moved in one ledger post.
    Returns the ids it moved; a payout another writer got to first (a webhook) is left alone."""
    if not paid:
        return set()
    rows = sorted(paid, key=lambda p: p.payout_id)
    now = timezone.now()
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE payments_payout p
                   SET status = 'paid', stripe_transfer_id = v.transfer, last_attempt_ms = v.ms, paid_at = %s,
                       claimed_at = NULL, next_attempt_at = NULL, last_error_code = '', last_error_message = '',
                       updated_at = %s
                  FROM unnest(%s::bigint[], %s::text[], %s::int[]) AS v(id, transfer, ms)
                 WHERE p.id = v.id AND p.status = 'processing'
             RETURNING p.id
                """,
                [
                    now,
                    now,
                    [r.payout_id for r in rows],
                    [r.transfer_id for r in rows],
                    [r.elapsed_ms for r in rows],
                ],
            )
            moved = {int(row[0]) for row in cursor.fetchall()}
        entries_post(
            [
                _paid_entry(
                    payout_id=r.payout_id,
                    amount=r.amount,
                    currency=r.currency,
                    transfer_id=r.transfer_id,
                    accounts=accounts.get(r.currency) or paid_accounts(r.currency),
                )
                for r in rows
                if r.payout_id in moved
            ]
        )
    return moved


def payout_record_retry(*, payout_id: int, code: str, message: str, delay_s: int, elapsed_ms: int | None) -> bool:
    with transaction.atomic(durable=True):
        return _cas(
            payout_id,
            [S.PROCESSING],
            S.QUEUED,
            next_attempt_at=timezone.now() + timedelta(seconds=delay_s),
            claimed_at=None,
            last_error_code=code[:64],
            last_error_message=message[:500],
            last_attempt_ms=elapsed_ms,
        )


def payout_record_failed(
    *, payout_id: int, code: str, message: str, flag_payee: bool, elapsed_ms: int | None = None
) -> bool:
    with transaction.atomic(durable=True):
        return mark_failed_in_tx(
            payout_id=payout_id,
            code=code,
            message=message,
            flag_payee=flag_payee,
            old=[S.PROCESSING],
            last_attempt_ms=elapsed_ms,
            last_error_code=code[:64],
            last_error_message=message[:500],
        )


def payout_record_review(*, payout_id: int, code: str, message: str, elapsed_ms: int | None = None) -> bool:
    """Stripe may or may not have paid: keep the money held until an operator (or a lookup) decides."""
    with transaction.atomic(durable=True):
        return _cas(
            payout_id,
            [S.PROCESSING],
            S.REVIEW,
            claimed_at=None,
            last_error_code=code[:64],
            last_error_message=message[:500],
            last_attempt_ms=elapsed_ms,
        )


def payout_release(*, payout_id: int) -> bool:
    """Hand a claimed payout back untried (breaker open, run stopping): the attempt did not happen."""
    with transaction.atomic(durable=True):
        return bool(
            Payout.objects.filter(pk=payout_id, status=S.PROCESSING).update(
                status=S.QUEUED, claimed_at=None, attempts=F("attempts") - 1, updated_at=timezone.now()
            )
        )


def payouts_requeue_orphans() -> int:
    """Payouts left PROCESSING by a run that died: due again, same key (Stripe replays if it paid)."""
    with transaction.atomic(durable=True):
        return Payout.objects.filter(status=S.PROCESSING).update(
            status=S.QUEUED,
            claimed_at=None,
            next_attempt_at=timezone.now(),
            last_error_code="interrupted",
            updated_at=timezone.now(),
        )


def payout_review_decide(*, payout_id: int, operator_id: int, paid: bool, transfer_id: str = "") -> Payout:
    """An operator settles a payout held for review: paid (money out) or failed (money back)."""
    with transaction.atomic(durable=True):
        if paid:
            done = mark_paid_in_tx(payout_id=payout_id, transfer_id=transfer_id, old=[S.REVIEW])
        else:
            done = mark_failed_in_tx(
                payout_id=payout_id,
                code="review_failed",
                message=f"returned after review by operator {operator_id}",
                flag_payee=False,
                old=[S.REVIEW],
            )
        if not done:
            raise _conflict(payout_id, "decided")
    return Payout.objects.get(pk=payout_id)


def payouts_retry_now(*, payout_ids: Iterable[int]) -> int:
    """An operator brings queued payouts forward to the next run (or the next sweep, for retries)."""
    with transaction.atomic(durable=True):
        return Payout.objects.filter(pk__in=list(payout_ids), status=S.QUEUED).update(
            next_attempt_at=timezone.now(), updated_at=timezone.now()
        )
