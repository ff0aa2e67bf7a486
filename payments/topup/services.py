"""Top-up: hold the money, send the payment once, resolve it by queries, refund a failure.

The order never changes: the hold commits first (wallet -> `topup_clearing`); the payment
request goes out after, outside any database transaction, claimed by the compare-and-set
HELD -> SENDING so it is sent at most once; its answer is applied in a new transaction. An
answer that settles nothing (in progress, ambiguous, a timeout) leaves the top-up PROCESSING
with `next_attempt_at` set: the sweep queries it every `SELCOM_QUERY_INTERVAL_S` and flags it
for an operator past `SELCOM_SLA_S`, and it is never sent again.
"""

from __future__ import annotations

import uuid
from contextlib import closing
from datetime import timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone

from core.errors import ApplicationError, Conflict, DependencyDown, NotFound, ValidationFailed
from core.idempotency import advisory_key
from core.metrics import TOPUP_FLAGGED, TOPUP_OUTCOMES, TOPUP_PROVIDER_ANSWERS
from ledger.currencies import format_amount, validate_amount
from ledger.models import Account
from ledger.services import Entry, Line, entry_post, receivable_for, reversal_post, system_account, wallet_for
from payments.models import TopUp, TopUpEvent
from payments.topup.adapters import Outcome, ProviderResult, topup_provider
from payments.topup.inbound import ng_phone_validate
from realtime.outbox import event_emit

log = structlog.get_logger(__name__)

CURRENCY = "NGN"  # Nigerian carriers sell airtime in naira
Status = TopUp.Status


# --- Requesting a top-up ------------------------------------------------------------------------


def topup_request(*, user_id: int, phone: str, carrier: str, kind: str, amount: int, client_key: str) -> TopUp:
    """Hold the amount, send the payment once, and return the top-up as the answer left it.

    The same `client_key` again returns the same top-up (never a second payment). When the
    provider could not be reached at all the hold is refunded and `DependencyDown` raised.
    """
    topup = topup_create(user_id=user_id, phone=phone, carrier=carrier, kind=kind, amount=amount, client_key=client_key)
    if topup.status == Status.HELD:
        topup = topup_send(topup_id=topup.pk)
    if topup.status == Status.FAILED and topup.failure_code == "provider_unavailable":
        raise DependencyDown(
            "The airtime provider cannot be reached; the amount is back in your wallet. Try again later.",
            code="provider_unavailable",
            details={"topup": topup.pk, "refunded": True},
        )
    return topup


def _validate(*, phone: str, carrier: str, kind: str, amount: object) -> int:
    ng_phone_validate(phone)
    if carrier not in TopUp.Carrier.values:
        raise ValidationFailed(
            "Unknown carrier.", code="invalid_carrier", details={"field": "carrier", "allowed": TopUp.Carrier.values}
        )
    if kind not in TopUp.Kind.values:
        raise ValidationFailed(
            "Unknown top-up type.", code="invalid_type", details={"field": "type", "allowed": TopUp.Kind.values}
        )
    value = validate_amount(amount)
    if value % 100:
        raise ValidationFailed(
            "Airtime is sold in whole naira: the amount (in kobo) must be a multiple of 100.",
            code="invalid_amount",
            details={"field": "amount"},
        )
    low, high = settings.TOPUP_MIN_AMOUNT, settings.TOPUP_MAX_AMOUNT
    if not low <= value <= high:
        raise ValidationFailed(
            f"A top-up is between {format_amount(low, CURRENCY)} and {format_amount(high, CURRENCY)}.",
            code="amount_out_of_range",
            details={"field": "amount", "min": low, "max": high},
        )
    return value


def topup_create(*, user_id: int, phone: str, carrier: str, kind: str, amount: int, client_key: str) -> TopUp:
    """Validate and hold: one database transaction makes the top-up and moves the money.

    Serialised per user (an advisory lock) so the daily limit holds under concurrent requests.
    Bad input raises before anything is written; a short wallet raises `InsufficientFunds` and
    rolls the whole thing back.
    """
    carrier = carrier.strip().lower() if isinstance(carrier, str) else carrier
    amount = _validate(phone=phone, carrier=carrier, kind=kind, amount=amount)
    with transaction.atomic(durable=True):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key(f"topup:user:{user_id}")])
        existing = TopUp.objects.filter(user_id=user_id, client_key=client_key).first()
        if existing is not None:
            if (existing.phone, existing.carrier, existing.kind, existing.amount) != (phone, carrier, kind, amount):
                raise Conflict(
                    "This Idempotency-Key was used for another top-up.",
                    code="idempotency_key_reused",
                    details={"topup": existing.pk},
                )
            return existing
        if receivable_for(user_id=user_id, currency=CURRENCY).balance < 0:
            raise ApplicationError(
                "Your account owes money after a corrected bet; top-ups are closed until it is paid.",
                code="receivable_open",
            )
        since = timezone.now() - timedelta(hours=24)
        spent = (
            TopUp.objects.filter(user_id=user_id, created_at__gte=since)
            .exclude(status=Status.FAILED)
            .aggregate(total=Sum("amount"))["total"]
            or 0
        )
        if spent + amount > settings.TOPUP_DAILY_LIMIT:
            raise ApplicationError(
                "This top-up would pass your daily top-up limit.",
                code="topup_daily_limit",
                details={"limit": settings.TOPUP_DAILY_LIMIT, "used": spent},
            )
        topup = TopUp.objects.create(
            user_id=user_id,
            transid=f"TOTE{uuid.uuid4().hex[:20].upper()}",
            client_key=client_key,
            phone=phone,
            carrier=carrier,
            kind=kind,
            amount=amount,
            currency=CURRENCY,
        )
        wallet = wallet_for(user_id=user_id, currency=CURRENCY)
        clearing = system_account(kind=Account.Kind.TOPUP_CLEARING, currency=CURRENCY)
        hold_id = entry_post(
            Entry(
                key=f"topup:{topup.pk}:hold",
                kind="topup_hold",
                lines=[Line(wallet.pk, -amount, CURRENCY), Line(clearing.pk, amount, CURRENCY)],
                reference=topup.transid,
                description=f"{kind} {carrier} {phone}",
                metadata={"topup": topup.pk},
            )
        )
        TopUp.objects.filter(pk=topup.pk).update(hold_transaction_id=hold_id)
        event_emit(
            type="balance.updated",
            user_id=user_id,
            data={"currency": CURRENCY, "reason": "topup", "transaction": hold_id, "amount": -amount},
        )
    topup.hold_transaction_id = hold_id
    log.info("topup.held", topup=topup.pk, transid=topup.transid, amount=amount)
    return topup


# --- Talking to the provider --------------------------------------------------------------------


def topup_send(*, topup_id: int) -> TopUp:
    """Send the payment request, once: only the caller that moves HELD -> SENDING sends."""
    now = timezone.now()
    claimed = TopUp.objects.filter(pk=topup_id, status=Status.HELD).update(
        status=Status.SENDING, submitted_at=now, updated_at=now
    )
    topup = TopUp.objects.get(pk=topup_id)
    if not claimed:
        return topup
    with closing(topup_provider()) as provider:
        result = provider.pay(
            transid=topup.transid, phone=topup.phone, amount=topup.amount, currency=topup.currency, kind=topup.kind
        )
    return _apply(topup, result, call=TopUpEvent.Kind.SEND)


def topup_query(*, topup_id: int, force: bool = False) -> TopUp:
    """Ask the provider what became of a PROCESSING top-up and apply a final answer.

    Claiming the query moves `next_attempt_at` one interval on (a compare-and-set), so two
    workers or a sweep and an operator never query the same top-up at once, and an answer
    that settles nothing needs no further write. `force` skips the wait (operators, callbacks).
    """
    now = timezone.now()
    due = TopUp.objects.filter(pk=topup_id, status=Status.PROCESSING)
    if not force:
        due = due.filter(next_attempt_at__lte=now)
    claimed = due.update(
        next_attempt_at=now + timedelta(seconds=settings.SELCOM_QUERY_INTERVAL_S),
        queries=F("queries") + 1,
        updated_at=now,
    )
    topup = TopUp.objects.get(pk=topup_id)
    if not claimed:
        return topup
    with closing(topup_provider()) as provider:
        result = provider.query(transid=topup.transid)
    return _apply(topup, result, call=TopUpEvent.Kind.QUERY)


def _apply(topup: TopUp, result: ProviderResult, *, call: str) -> TopUp:
    TOPUP_PROVIDER_ANSWERS.labels(call, result.outcome.value).inc()
    log.info(
        "topup.provider_answer",
        topup=topup.pk,
        transid=topup.transid,
        call=str(call),
        outcome=result.outcome.value,
        result_code=result.result_code,
        http_status=result.http_status,
    )
    if result.outcome == Outcome.SUCCESS:
        return topup_finish(topup_id=topup.pk, succeeded=True, result=result, event_kind=call)
    if result.outcome == Outcome.FAILED:
        return topup_finish(
            topup_id=topup.pk, succeeded=False, result=result, event_kind=call, failure_code="provider_declined"
        )
    if result.outcome == Outcome.UNREACHABLE and call == TopUpEvent.Kind.SEND:
        # The connection was never made, so the provider cannot have the payment: refund now.
        return topup_finish(
            topup_id=topup.pk, succeeded=False, result=result, event_kind=call, failure_code="provider_unavailable"
        )
    # In progress, ambiguous or unknown: wait for a query.
    with transaction.atomic(durable=True):
        topup_event_record(topup_id=topup.pk, kind=call, result=result)
        if call == TopUpEvent.Kind.SEND:
            submitted = topup.submitted_at or timezone.now()
            TopUp.objects.filter(pk=topup.pk, status=Status.SENDING).update(
                status=Status.PROCESSING,
                next_attempt_at=submitted + timedelta(seconds=settings.SELCOM_QUERY_INTERVAL_S),
                **_provider_fields(result),
                updated_at=timezone.now(),
            )
        elif result.result_code:
            TopUp.objects.filter(pk=topup.pk, status=Status.PROCESSING).update(
                **_provider_fields(result), updated_at=timezone.now()
            )
    return TopUp.objects.get(pk=topup.pk)


def _provider_fields(result: ProviderResult) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if result.result_code:
        fields["result_code"] = result.result_code[:32]
    if result.reference:
        fields["provider_reference"] = result.reference[:128]
    if result.message:
        fields["message"] = result.message[:255]
    return fields


def topup_event_record(*, topup_id: int, kind: str, result: ProviderResult | None = None, message: str = "") -> None:
    """The audit row of a provider answer, callback, sweep or operator action."""
    TopUpEvent.objects.create(
        topup_id=topup_id,
        kind=kind,
        outcome=result.outcome.value if result else "",
        result_code=(result.result_code if result else "")[:32],
        http_status=result.http_status if result else None,
        message=(message or (result.message if result else ""))[:255],
        payload=result.body if result else {},
    )


def topup_finish(
    *,
    topup_id: int,
    succeeded: bool,
    result: ProviderResult | None,
    event_kind: str,
    failure_code: str = "",
    message: str = "",
    only_from: frozenset[str] = TopUp.OPEN,
) -> TopUp:
    """Make an open top-up SUCCEEDED, or FAILED with its refund, in one database transaction.

    `only_from` names the states the caller may finish it from (decided under the row lock):
    a refund of a hold "never sent" must not touch a top-up a late send has just claimed.
    A final answer about a top-up that is already final changes nothing; if it contradicts
    what we did (success reported after a refund), the top-up is flagged for an operator.
    """
    now = timezone.now()
    with transaction.atomic(durable=True):
        topup = TopUp.objects.select_for_update().get(pk=topup_id)
        if topup.is_open and topup.status not in only_from:
            return topup
        topup_event_record(topup_id=topup_id, kind=event_kind, result=result, message=message)
        if not topup.is_open:
            final = Status.SUCCEEDED if succeeded else Status.FAILED
            if topup.status != final:
                reason = f"provider now reports {'success' if succeeded else 'failure'} of a top-up that {topup.status}"
                TopUp.objects.filter(pk=topup_id).update(flagged_at=now, flag_reason=reason[:255], updated_at=now)
                TOPUP_FLAGGED.labels("contradiction").inc()
                log.error("topup.contradiction", topup=topup_id, transid=topup.transid, reason=reason)
            return TopUp.objects.get(pk=topup_id)
        new = Status.SUCCEEDED if succeeded else Status.FAILED
        if new not in TopUp.TRANSITIONS[topup.status]:
            raise Conflict(f"A {topup.status} top-up cannot become {new}.", code="invalid_transition")
        refund_id: int | None = None
        if not succeeded:
            if topup.hold_transaction_id is None:  # held in the transaction that made the top-up
                raise Conflict("The top-up has no hold to refund.", code="topup_without_hold")
            refund_id = reversal_post(
                original_id=topup.hold_transaction_id,
                reason=f"top-up {topup.pk} failed: {failure_code}",
                key=f"topup:{topup.pk}:refund",
            )
            event_emit(
                type="balance.updated",
                user_id=topup.user_id,
                data={"currency": topup.currency, "reason": "topup_refund", "transaction": refund_id},
            )
        changed = TopUp.objects.filter(pk=topup_id, status=topup.status).update(
            status=new,
            refund_transaction_id=refund_id,
            failure_code=failure_code[:64],
            completed_at=now,
            next_attempt_at=None,
            updated_at=now,
            **(_provider_fields(result) if result else {}),
        )
        if changed != 1:  # impossible under the row lock; never let it pass silently
            raise Conflict("The top-up changed while it was being finished.", code="concurrent_update")
    TOPUP_OUTCOMES.labels(new.value).inc()
    log.info("topup.finished", topup=topup_id, status=new.value, failure_code=failure_code)
    return TopUp.objects.get(pk=topup_id)


# --- Operators ----------------------------------------------------------------------------------


def topup_refund(*, topup_id: int, operator: str, reason: str = "") -> TopUp:
    """An operator gives up on an unresolved top-up and returns the money.

    Refused while the request is on the wire (SENDING). The caller should query first: a
    refund of a payment the provider later completes is flagged, not taken back.
    """
    topup = TopUp.objects.filter(pk=topup_id).first()
    if topup is None:
        raise NotFound("No such top-up.")
    if not topup.is_open:
        raise Conflict(f"The top-up is already {topup.status}.", code="topup_final")
    if topup.status == Status.SENDING:
        raise Conflict("The payment request is in flight; wait for its answer.", code="topup_in_flight")
    finished = topup_finish(
        topup_id=topup_id,
        succeeded=False,
        result=None,
        event_kind=TopUpEvent.Kind.OPERATOR,
        failure_code="refunded_by_operator",
        message=f"refunded by {operator}: {reason}"[:255],
        only_from=frozenset({Status.HELD, Status.PROCESSING}),
    )
    if finished.failure_code != "refunded_by_operator":
        raise Conflict(f"The top-up became {finished.status} meanwhile.", code="topup_final")
    return finished
