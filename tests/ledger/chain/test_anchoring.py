"""Anchoring and verification on eth-tester (in process)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from ledger.chain.anchoring import big_wins_anchor, chain_records_anchor
from ledger.chain.artefact import bet_hash
from ledger.chain.client import ChainClient
from ledger.chain.config import ChainMisconfigured
from ledger.chain.services import chain_record_request
from ledger.chain.verification import chain_records_verify
from ledger.models import ChainRecord
from tests.ledger.chain.helpers import mine

pytestmark = pytest.mark.django_db
Status = ChainRecord.Status


def _request(*ids: int, amount: int = 150_000_000) -> list[ChainRecord]:
    return [chain_record_request(subject_id=i, win_amount=amount + i, currency="NGN") for i in ids]


def test_a_batch_is_anchored_and_confirmed(tester_client: ChainClient) -> None:
    _request(11, 12, 13)
    start_nonce = tester_client.nonce()

    report = chain_records_anchor(client=tester_client)

    assert (report.sent, report.confirmed, report.waiting) == (3, 3, 0)
    records = list(ChainRecord.objects.order_by("id"))
    assert [r.status for r in records] == [Status.CONFIRMED] * 3
    assert [r.nonce for r in records] == [start_nonce, start_nonce + 1, start_nonce + 2]
    for record in records:
        receipt = tester_client.receipt(record.tx_hash)
        assert receipt is not None and receipt.succeeded and receipt.block_number == record.block_number
        assert record.block_timestamp is not None and record.confirmed_at is not None
        assert (record.network, record.chain_id, record.contract_address) == (
            "eth-tester",
            tester_client.config.chain_id,
            tester_client.contract_address,
        )
        assert tester_client.bet_record(bet_hash(record.subject_id)).win_amount == record.win_amount
    assert tester_client.stats() == (3, sum(r.win_amount for r in records))

    # nothing left to do: a second run sends nothing and doubles nothing
    again = chain_records_anchor(client=tester_client)
    assert (again.sent, again.confirmed) == (0, 0)
    assert tester_client.stats()[0] == 3


def test_oldest_first_up_to_the_batch_size(make_tester_client: Callable[..., ChainClient]) -> None:
    client = make_tester_client(batch_size=2)
    records = _request(5, 3, 9, 1)

    chain_records_anchor(client=client)

    statuses = {r.subject_id: r.status for r in ChainRecord.objects.all()}
    assert statuses == {5: Status.CONFIRMED, 3: Status.CONFIRMED, 9: Status.PENDING, 1: Status.PENDING}
    chain_records_anchor(client=client)
    assert ChainRecord.objects.filter(status=Status.CONFIRMED).count() == len(records)


def test_a_record_waits_for_its_confirmations(make_tester_client: Callable[..., ChainClient]) -> None:
    client = make_tester_client(confirmations=3, receipt_wait_s=1.0)
    (record,) = _request(21)

    chain_records_anchor(client=client)
    record.refresh_from_db()
    assert record.status == Status.SUBMITTED
    assert record.block_number is not None  # mined, but only one block deep

    mine(client.w3, 1)
    chain_records_anchor(client=client)
    record.refresh_from_db()
    assert record.status == Status.SUBMITTED

    mine(client.w3, 1)
    report = chain_records_anchor(client=client)
    record.refresh_from_db()
    assert (record.status, report.confirmed) == (Status.CONFIRMED, 1)


def test_a_bet_already_on_chain_is_adopted_not_doubled(tester_client: ChainClient) -> None:
    # sent earlier by a run that crashed before it saved anything
    signed = tester_client.sign_record(
        bet_hash=bet_hash(31), win_amount=150_000_031, nonce=tester_client.nonce(), fees=tester_client.suggest_fees()
    )
    tester_client.send(signed)
    (record,) = _request(31)

    chain_records_anchor(client=tester_client)

    record.refresh_from_db()
    assert record.status == Status.CONFIRMED
    assert signed.tx_hash in record.tx_hashes and record.tx_hash == signed.tx_hash  # the transaction that recorded it
    assert tester_client.stats() == (1, 150_000_031)


def test_a_bet_on_chain_with_another_amount_fails_loudly(tester_client: ChainClient) -> None:
    signed = tester_client.sign_record(
        bet_hash=bet_hash(32), win_amount=1, nonce=tester_client.nonce(), fees=tester_client.suggest_fees()
    )
    tester_client.send(signed)
    (record,) = _request(32)

    chain_records_anchor(client=tester_client)

    record.refresh_from_db()
    assert record.status == Status.FAILED
    assert "already recorded on chain with amount 1" in record.error


def test_a_key_that_is_not_the_recorder_sends_nothing(tester_client: ChainClient) -> None:
    stranger = ChainClient(
        w3=tester_client.w3,
        config=dataclasses.replace(tester_client.config, private_key="0x" + "00" * 31 + "02"),
        contract_address=tester_client.contract_address,
    )
    _request(41)

    with pytest.raises(ChainMisconfigured, match="not the contract's recorder"):
        chain_records_anchor(client=stranger)

    assert ChainRecord.objects.get().status == Status.PENDING
    assert tester_client.stats() == (0, 0)


def test_verification_catches_a_record_altered_in_our_database(tester_client: ChainClient) -> None:
    _request(51, 52, 53)
    chain_records_anchor(client=tester_client)
    assert chain_records_verify(client=tester_client).clean

    ChainRecord.objects.filter(subject_id=52).update(win_amount=999_999_999)
    ChainRecord.objects.filter(subject_id=53).update(bet_hash=bet_hash(5300))

    report = chain_records_verify(client=tester_client)
    assert report.checked == 3
    assert sorted((m.subject_id, m.problem) for m in report.mismatches) == [(52, "amount"), (53, "hash")]
    (amount,) = [m for m in report.mismatches if m.problem == "amount"]
    assert (amount.ours, amount.on_chain) == ("999999999", str(150_000_052))


def test_a_confirmed_record_missing_from_the_chain_is_reported(tester_client: ChainClient) -> None:
    _request(61)
    chain_records_anchor(client=tester_client)
    # a row claiming a record the chain never saw
    ChainRecord.objects.create(
        subject_id=62,
        bet_hash=bet_hash(62),
        win_amount=5,
        currency="NGN",
        status=Status.CONFIRMED,
        tx_hash="0x" + "ab" * 32,
        block_number=1,
        contract_address=tester_client.contract_address,
    )
    report = chain_records_verify(client=tester_client)
    assert [(m.subject_id, m.problem) for m in report.mismatches] == [(62, "missing")]


class TestCandidates:
    def test_without_a_source_the_command_says_so_and_anchors_requested_records(
        self, settings: Any, tester_client: ChainClient
    ) -> None:
        settings.BIG_WIN_CANDIDATE_SOURCE = ""
        out = StringIO()
        call_command("anchor_big_wins", "--dry-run", stdout=out)
        assert "No big-win candidate source is configured" in out.getvalue()
        assert "0 pending record(s) due would be sent" in out.getvalue()

    def test_a_plugged_in_source_selects_big_wins_only(self, settings: Any, tester_client: ChainClient) -> None:
        settings.BIG_WIN_CANDIDATE_SOURCE = "tests.ledger.chain.sources.everything"

        dry = big_wins_anchor(dry_run=True, client=tester_client)
        assert (dry.candidates.seen, dry.candidates.requested, dry.candidates.skipped) == (5, 3, 2)
        assert not ChainRecord.objects.exists()  # a dry run writes nothing

        report = big_wins_anchor(client=tester_client)
        assert report.candidates.requested == 3
        assert sorted(ChainRecord.objects.values_list("subject_id", "status")) == [
            (101, Status.CONFIRMED),
            (103, Status.CONFIRMED),
            (105, Status.CONFIRMED),
        ]
        again = big_wins_anchor(client=tester_client)
        assert (again.candidates.requested, again.sent) == (0, 0)

    def test_the_source_leaves_out_what_is_recorded(self, settings: Any, tester_client: ChainClient) -> None:
        settings.BIG_WIN_CANDIDATE_SOURCE = "tests.ledger.chain.sources.settled_big_wins"
        first = big_wins_anchor(client=tester_client, limit=2)
        second = big_wins_anchor(client=tester_client, limit=2)
        assert (first.candidates.seen, second.candidates.seen) == (2, 1)
        assert ChainRecord.objects.filter(status=Status.CONFIRMED).count() == 3
