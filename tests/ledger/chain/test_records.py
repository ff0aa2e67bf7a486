"""Requesting chain records and moving them between statuses (no chain involved)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.errors import Conflict, ValidationFailed
from ledger.chain.artefact import bet_hash
from ledger.chain.services import chain_record_move, chain_record_request, chain_record_retry, retry_delay
from ledger.models import ChainRecord

pytestmark = pytest.mark.django_db
Status = ChainRecord.Status


def test_a_request_is_idempotent_per_slip() -> None:
    first = chain_record_request(subject_id=42, win_amount=150_000_000, currency="NGN")
    again = chain_record_request(subject_id=42, win_amount=150_000_000, currency="NGN")

    assert again.pk == first.pk
    assert ChainRecord.objects.count() == 1
    assert (first.status, first.bet_hash, first.subject_kind) == (Status.PENDING, bet_hash(42), "bet_slip")


def test_the_same_slip_with_another_amount_is_a_conflict() -> None:
    chain_record_request(subject_id=42, win_amount=150_000_000, currency="NGN")
    with pytest.raises(Conflict) as excinfo:
        chain_record_request(subject_id=42, win_amount=150_000_001, currency="NGN")
    assert excinfo.value.status_code == 409
    assert ChainRecord.objects.get().win_amount == 150_000_000


@pytest.mark.parametrize(
    ("subject_id", "amount", "currency"), [(0, 5, "NGN"), (1, 0, "NGN"), (1, -5, "NGN"), (1, 5, "XXX"), (1, 1.5, "NGN")]
)
def test_bad_input_writes_nothing(subject_id: int, amount: int, currency: str) -> None:
    with pytest.raises(ValidationFailed):
        chain_record_request(subject_id=subject_id, win_amount=amount, currency=currency)
    assert not ChainRecord.objects.exists()


def test_transitions_are_compare_and_set() -> None:
    record = chain_record_request(subject_id=1, win_amount=5, currency="NGN")

    assert chain_record_move(record_id=record.pk, old=Status.PENDING, new=Status.SUBMITTED, tx_hash="0xa", nonce=0)
    # a second worker that read PENDING loses
    assert not chain_record_move(record_id=record.pk, old=Status.PENDING, new=Status.SUBMITTED, tx_hash="0xb")
    # a replacement only lands on the transaction it replaces
    assert not chain_record_move(
        record_id=record.pk, old=Status.SUBMITTED, new=Status.SUBMITTED, expect_tx_hash="0xb", tx_hash="0xc"
    )
    assert chain_record_move(
        record_id=record.pk, old=Status.SUBMITTED, new=Status.SUBMITTED, expect_tx_hash="0xa", tx_hash="0xc"
    )
    record.refresh_from_db()
    assert (record.status, record.tx_hash) == (Status.SUBMITTED, "0xc")


def test_forbidden_transitions_are_refused() -> None:
    assert not ChainRecord.can_move(Status.CONFIRMED, Status.PENDING)
    assert not ChainRecord.can_move(Status.PENDING, Status.PENDING)
    assert ChainRecord.can_move(Status.FAILED, Status.PENDING)
    record = chain_record_request(subject_id=1, win_amount=5, currency="NGN")
    with pytest.raises(ValueError, match="cannot move"):
        chain_record_move(record_id=record.pk, old=Status.CONFIRMED, new=Status.PENDING)


def test_an_operator_retries_a_failed_record() -> None:
    record = chain_record_request(subject_id=1, win_amount=5, currency="NGN")
    ChainRecord.objects.filter(pk=record.pk).update(status=Status.FAILED, attempts=12, error="gave up")

    assert chain_record_retry(record_id=record.pk)
    assert not chain_record_retry(record_id=record.pk)  # already pending
    record.refresh_from_db()
    assert (record.status, record.attempts) == (Status.PENDING, 0)


def test_backoff_doubles_up_to_a_cap() -> None:
    delays = [retry_delay(attempts=n, base_s=30, max_s=3600) for n in (1, 2, 3, 8, 20)]
    assert delays == [timedelta(seconds=s) for s in (30, 60, 120, 3600, 3600)]
