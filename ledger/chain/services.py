"""Writes on chain records: requesting one (what settlement calls), and moving one between
statuses by compare-and-set. No network call happens here."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from core.errors import Conflict, ValidationFailed
from ledger.chain.artefact import bet_hash
from ledger.currencies import get_currency, validate_amount
from ledger.models import ChainRecord

log = structlog.get_logger(__name__)
Status = ChainRecord.Status


def chain_record_request(
    *, subject_id: int, win_amount: int, currency: str, subject_kind: str = ChainRecord.SubjectKind.BET_SLIP
) -> ChainRecord:
    """Ask for a win to be anchored. Idempotent: the same subject and amount returns the first
    record; the same subject with another amount is a Conflict. Works inside the caller's
    transaction (a savepoint), so settlement can request it with the payout it books."""
    if subject_id <= 0:
        raise ValidationFailed("The subject id must be a positive integer.", details={"subject_id": subject_id})
    validate_amount(win_amount, field="win_amount")
    get_currency(currency)
    try:
        with transaction.atomic():
            record = ChainRecord.objects.create(
                subject_kind=subject_kind,
                subject_id=subject_id,
                bet_hash=bet_hash(subject_id),
                win_amount=win_amount,
                currency=currency,
            )
    except IntegrityError:
        record = ChainRecord.objects.get(subject_kind=subject_kind, subject_id=subject_id)
        if (record.win_amount, record.currency) != (win_amount, currency):
            raise Conflict(
                "This subject was already requested with another amount.",
                code="chain_record_conflict",
                details={"subject_id": subject_id, "recorded": record.win_amount, "currency": record.currency},
            ) from None
        return record
    log.info("chain.record_requested", record=record.pk, subject_id=subject_id, win_amount=win_amount)
    return record


def chain_record_move(*, record_id: int, old: str, new: str, expect_tx_hash: str | None = None, **fields: Any) -> bool:
    """Compare-and-set one transition; False when the record was no longer in `old` (or, with
    `expect_tx_hash`, no longer on that transaction): someone else got there first."""
    if not ChainRecord.can_move(old, new):
        raise ValueError(f"chain record cannot move {old} -> {new}")
    filters: dict[str, Any] = {"pk": record_id, "status": old}
    if expect_tx_hash is not None:
        filters["tx_hash"] = expect_tx_hash
    return ChainRecord.objects.filter(**filters).update(status=new, updated_at=timezone.now(), **fields) == 1


def retry_delay(*, attempts: int, base_s: int, max_s: int) -> timedelta:
    return timedelta(seconds=min(max_s, base_s * 2 ** max(0, attempts - 1)))


def chain_record_retry(*, record_id: int) -> bool:
    """Operator's retry of a failed record: pending again, due now, with a fresh attempt count."""
    moved = chain_record_move(
        record_id=record_id, old=Status.FAILED, new=Status.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    if moved:
        log.info("chain.record_retry", record=record_id)
    return moved


def chain_record_send_now(*, record_id: int) -> bool:
    """Make a pending record due now (it waits out a backoff otherwise)."""
    return (
        ChainRecord.objects.filter(pk=record_id, status=Status.PENDING).update(
            next_attempt_at=timezone.now(), updated_at=timezone.now()
        )
        == 1
    )


def attempts_plus_one() -> Any:
    return F("attempts") + 1
