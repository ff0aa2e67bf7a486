"""Anchoring: send pending records to BetLedger, confirm them, replace what is stuck.

One sender, so one run at a time (a PostgreSQL advisory lock). Nonces are ours: a run starts
from the node's pending count, skips the nonces of our transactions still in flight, and signs
one transaction per record, sent back to back without waiting for receipts (pipelined).

Before a transaction is broadcast its hash and nonce are saved (write-ahead), so a crash or a
node that goes away never loses track of it. The contract rejects a second record of a bet, so
a transaction sent twice cannot double a record: the sweep finds the bet on chain, and adopts
the transaction that recorded it (from its event) instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog
from django.db import connection
from django.utils import timezone

from core.metrics import CHAIN_TRANSACTIONS
from ledger.chain.candidates import CandidatesReport, big_wins_request
from ledger.chain.client import ChainClient, ChainRejected, Fees, Receipt
from ledger.chain.config import ChainConfig, ChainMisconfigured, ChainUnavailable, chain_config
from ledger.chain.deploy import connected_client, deployment_block
from ledger.chain.services import attempts_plus_one, chain_record_move, retry_delay
from ledger.models import ChainRecord

log = structlog.get_logger(__name__)
Status = ChainRecord.Status

# pg advisory lock key held by the one run that may sign with the ledger's key.
ANCHOR_LOCK_KEY = 7_466_201_802


@dataclass
class AnchorReport:
    dry_run: bool = False
    candidates: CandidatesReport = field(default_factory=CandidatesReport)
    due: int = 0
    sent: int = 0
    replaced: int = 0
    confirmed: int = 0
    returned: int = 0
    failed: int = 0
    waiting: int = 0
    locked_out: bool = False
    sent_hashes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"sent {self.sent}, replaced {self.replaced}, confirmed {self.confirmed}, "
            f"back to pending {self.returned}, failed {self.failed}, awaiting confirmation {self.waiting}"
        )


@contextmanager
def anchor_lock() -> Iterator[bool]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [ANCHOR_LOCK_KEY])
        held = bool(cursor.fetchone()[0])
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [ANCHOR_LOCK_KEY])


def due_records(*, limit: int) -> list[ChainRecord]:
    """Pending records whose time has come, oldest first."""
    return list(
        ChainRecord.objects.filter(status=Status.PENDING, next_attempt_at__lte=timezone.now()).order_by("id")[:limit]
    )


def big_wins_anchor(
    *, dry_run: bool = False, client: ChainClient | None = None, limit: int | None = None
) -> AnchorReport:
    """The beat task's work: request records for new big wins, then anchor what is due."""
    config = client.config if client is not None else chain_config()
    limit = limit or config.batch_size
    candidates = big_wins_request(limit=limit, dry_run=dry_run)
    if dry_run:
        return AnchorReport(dry_run=True, candidates=candidates, due=len(due_records(limit=limit)))
    report = chain_records_anchor(client=client, config=config, limit=limit)
    report.candidates = candidates
    return report


def chain_records_anchor(
    *, client: ChainClient | None = None, config: ChainConfig | None = None, limit: int | None = None
) -> AnchorReport:
    """Confirm what was mined, replace what is stuck, resend what was dropped, then send up to
    `limit` due pending records, oldest first, and wait a little for their receipts. Touches
    the node only when there is something to do."""
    report = AnchorReport()
    if not (
        ChainRecord.objects.filter(status=Status.SUBMITTED).exists()
        or ChainRecord.objects.filter(status=Status.PENDING, next_attempt_at__lte=timezone.now()).exists()
    ):
        return report
    config = client.config if client is not None else (config or chain_config())
    with anchor_lock() as held:
        if not held:
            report.locked_out = True
            return report
        client = client or connected_client(config=config)
        _sweep(client, report)
        if ChainRecord.objects.filter(status=Status.PENDING, next_attempt_at__lte=timezone.now()).exists():
            _check_recorder(client)
            _send_due(client, report, limit=limit or config.batch_size)
        if report.sent_hashes:
            mined = client.wait_receipts(report.sent_hashes, timeout_s=config.receipt_wait_s)
            _sweep(client, report, mined=mined)
    report.waiting = ChainRecord.objects.filter(status=Status.SUBMITTED).count()
    return report


def _check_recorder(client: ChainClient) -> None:
    recorder = client.recorder()
    if recorder.lower() != client.sender.lower():
        raise ChainMisconfigured(
            f"The ledger's key ({client.sender}) is not the contract's recorder ({recorder}); the owner must "
            "appoint it with setRecorder.",
            details={"sender": client.sender, "recorder": recorder, "contract": client.contract_address},
        )


# --- sending ---------------------------------------------------------------------------------------


def _send_due(client: ChainClient, report: AnchorReport, *, limit: int) -> None:
    config = client.config
    due = due_records(limit=limit)
    report.due = len(due)
    if not due:
        return
    latest = client.nonce("latest")
    next_nonce = client.nonce("pending")
    in_flight = set(
        ChainRecord.objects.filter(
            status=Status.SUBMITTED, sender=client.sender, chain_id=config.chain_id, nonce__gte=latest
        ).values_list("nonce", flat=True)
    )
    fees: Fees | None = None
    for record in due:
        if record.attempts > 0 and _adopt(client, record, report):
            continue
        while next_nonce in in_flight:
            next_nonce += 1
        fees = fees or client.suggest_fees()
        signed = client.sign_record(bet_hash=record.bet_hash, win_amount=record.win_amount, nonce=next_nonce, fees=fees)
        if not chain_record_move(
            record_id=record.pk,
            old=Status.PENDING,
            new=Status.SUBMITTED,
            **_tx_fields(client, signed.tx_hash, next_nonce, fees),
            tx_hashes=[signed.tx_hash],
            attempts=attempts_plus_one(),
        ):
            continue  # changed under us (an operator); the nonce stays free for the next record
        next_nonce += 1
        try:
            client.send(signed)
        except ChainUnavailable:
            _send_failed(record, signed.tx_hash, "the chain node did not answer", config)
            raise
        except ChainRejected as exc:
            # Later nonces would wait behind the gap this leaves: stop here, the next run resumes.
            _send_failed(record, signed.tx_hash, exc.message, config)
            break
        CHAIN_TRANSACTIONS.labels("sent").inc()
        report.sent += 1
        report.sent_hashes.append(signed.tx_hash)
    log.info("chain.sent", sent=report.sent, due=report.due)


def _tx_fields(client: ChainClient, tx_hash: str, nonce: int, fees: Fees) -> dict[str, Any]:
    return {
        "tx_hash": tx_hash,
        "nonce": nonce,
        "max_fee_per_gas": fees.max_fee_per_gas,
        "max_priority_fee_per_gas": fees.max_priority_fee_per_gas,
        "sender": client.sender,
        "chain_id": client.config.chain_id,
        "network": client.config.network,
        "contract_address": client.contract_address,
        "submitted_at": timezone.now(),
        "block_number": None,
        "error": "",
    }


def _send_failed(record: ChainRecord, tx_hash: str, error: str, config: ChainConfig) -> None:
    """Back to pending with backoff (the hash is kept in the error trail), or failed for good."""
    attempts = record.attempts + 1
    if attempts >= config.max_attempts:
        chain_record_move(
            record_id=record.pk, old=Status.SUBMITTED, new=Status.FAILED, expect_tx_hash=tx_hash, error=error
        )
        CHAIN_TRANSACTIONS.labels("failed").inc()
        log.error("chain.record_failed", record=record.pk, attempts=attempts, error=error)
        return
    delay = retry_delay(attempts=attempts, base_s=config.retry_base_s, max_s=config.retry_max_s)
    chain_record_move(
        record_id=record.pk,
        old=Status.SUBMITTED,
        new=Status.PENDING,
        expect_tx_hash=tx_hash,
        error=error,
        nonce=None,
        next_attempt_at=timezone.now() + delay,
    )
    CHAIN_TRANSACTIONS.labels("retry").inc()
    log.warning("chain.send_failed", record=record.pk, attempts=attempts, retry_in_s=delay.total_seconds(), error=error)


# --- the sweep: confirm, replace, recover ------------------------------------------------------


def _sweep(client: ChainClient, report: AnchorReport, *, mined: dict[str, Receipt] | None = None) -> None:
    """`mined`: receipts already fetched in this run (saves asking the node twice)."""
    config = client.config
    submitted = list(ChainRecord.objects.filter(status=Status.SUBMITTED).order_by("nonce", "id"))
    if not submitted:
        return
    head = client.block_number()
    latest_nonce = client.nonce("latest")
    for record in submitted:
        if record.chain_id != config.chain_id:
            continue  # sent on another network: its own configuration confirms it
        _settle(client, record, report, head=head, latest_nonce=latest_nonce, mined=mined or {})


def _settle(
    client: ChainClient,
    record: ChainRecord,
    report: AnchorReport,
    *,
    head: int,
    latest_nonce: int,
    mined: dict[str, Receipt],
) -> None:
    config = client.config
    hashes = list(reversed(record.tx_hashes or [record.tx_hash]))
    receipt: Receipt | None = None
    for tx_hash in hashes:
        if (receipt := mined.get(tx_hash) or client.receipt(tx_hash)) is not None:
            break
    if receipt is not None and record.contract_address == client.contract_address:
        if receipt.succeeded:
            _confirm_if_deep(client, record, receipt, report, head=head)
        else:
            _on_revert(client, record, report)
        return
    if record.contract_address != client.contract_address:
        _return_to_pending(record, report, "the contract was deployed again; sending to the new one")
        return
    age = (timezone.now() - (record.submitted_at or record.created_at)).total_seconds()
    known = any(client.tx_known(tx_hash) for tx_hash in hashes)
    nonce_used = record.nonce is not None and latest_nonce > record.nonce
    if not known:
        if nonce_used or age >= config.stuck_after_s:
            if not _adopt(client, record, report):
                _return_to_pending(record, report, "the node no longer has the transaction; sending again")
        return
    if not nonce_used and age >= config.stuck_after_s and record.sender == client.sender:
        _replace(client, record, report)


def _confirm_if_deep(
    client: ChainClient, record: ChainRecord, receipt: Receipt, report: AnchorReport, *, head: int
) -> None:
    depth = head - receipt.block_number + 1
    if depth < client.config.confirmations:
        ChainRecord.objects.filter(pk=record.pk, status=Status.SUBMITTED).update(
            block_number=receipt.block_number, updated_at=timezone.now()
        )
        return
    if chain_record_move(
        record_id=record.pk,
        old=Status.SUBMITTED,
        new=Status.CONFIRMED,
        expect_tx_hash=record.tx_hash,
        tx_hash=receipt.tx_hash,
        block_number=receipt.block_number,
        block_timestamp=client.block_time(receipt.block_number),
        gas_used=receipt.gas_used,
        confirmed_at=timezone.now(),
        error="",
    ):
        CHAIN_TRANSACTIONS.labels("confirmed").inc()
        report.confirmed += 1
        log.info("chain.confirmed", record=record.pk, tx_hash=receipt.tx_hash, block=receipt.block_number)


def _on_revert(client: ChainClient, record: ChainRecord, report: AnchorReport) -> None:
    CHAIN_TRANSACTIONS.labels("reverted").inc()
    if _adopt(client, record, report):
        return  # a duplicate: the bet was already recorded, by an earlier transaction of ours
    config = client.config
    error = "the transaction reverted"
    if record.attempts >= config.max_attempts:
        chain_record_move(
            record_id=record.pk, old=Status.SUBMITTED, new=Status.FAILED, expect_tx_hash=record.tx_hash, error=error
        )
        report.failed += 1
        return
    delay = retry_delay(attempts=record.attempts, base_s=config.retry_base_s, max_s=config.retry_max_s)
    if chain_record_move(
        record_id=record.pk,
        old=Status.SUBMITTED,
        new=Status.PENDING,
        expect_tx_hash=record.tx_hash,
        error=error,
        nonce=None,
        next_attempt_at=timezone.now() + delay,
    ):
        report.returned += 1


def _return_to_pending(record: ChainRecord, report: AnchorReport, reason: str) -> None:
    if chain_record_move(
        record_id=record.pk,
        old=Status.SUBMITTED,
        new=Status.PENDING,
        expect_tx_hash=record.tx_hash,
        error=reason,
        nonce=None,
        next_attempt_at=timezone.now(),
    ):
        CHAIN_TRANSACTIONS.labels("dropped").inc()
        report.returned += 1
        log.warning("chain.dropped", record=record.pk, tx_hash=record.tx_hash, reason=reason)


def _adopt(client: ChainClient, record: ChainRecord, report: AnchorReport) -> bool:
    """If the bet is already on chain, take the transaction that put it there as this record's."""
    on_chain = client.bet_record(record.bet_hash)
    if not on_chain.exists:
        return False
    old = record.status
    if on_chain.win_amount != record.win_amount:
        error = f"already recorded on chain with amount {on_chain.win_amount}, not {record.win_amount}"
        if chain_record_move(record_id=record.pk, old=old, new=Status.FAILED, error=error):
            CHAIN_TRANSACTIONS.labels("failed").inc()
            report.failed += 1
            log.error("chain.amount_clash", record=record.pk, on_chain=on_chain.win_amount, ours=record.win_amount)
        return True
    start = deployment_block(chain_id=client.config.chain_id, address=client.contract_address)
    found = client.record_log(record.bet_hash, from_block=start)
    if found is None:
        chain_record_move(
            record_id=record.pk, old=old, new=Status.FAILED, error="on chain, but the recording event was not found"
        )
        report.failed += 1
        return True
    hashes = list(record.tx_hashes or [])
    if found.tx_hash not in hashes:
        hashes.append(found.tx_hash)
    if not chain_record_move(
        record_id=record.pk,
        old=old,
        new=Status.SUBMITTED,
        expect_tx_hash=record.tx_hash if old == Status.SUBMITTED else None,
        tx_hash=found.tx_hash,
        tx_hashes=hashes,
        sender=record.sender or client.sender,
        chain_id=client.config.chain_id,
        network=client.config.network,
        contract_address=client.contract_address,
        submitted_at=record.submitted_at or timezone.now(),
    ):
        return True
    log.info("chain.adopted", record=record.pk, tx_hash=found.tx_hash)
    record.refresh_from_db()
    _confirm_if_deep(client, record, found, report, head=client.block_number())
    return True


def _replace(client: ChainClient, record: ChainRecord, report: AnchorReport) -> None:
    """Stuck in the pool: the same record at the same nonce with higher fees."""
    assert record.nonce is not None  # noqa: S101 - a submitted record always has its nonce
    previous = Fees(
        max_fee_per_gas=record.max_fee_per_gas or 0, max_priority_fee_per_gas=record.max_priority_fee_per_gas or 0
    )
    try:
        fees = client.bumped_fees(previous)
    except ChainRejected as exc:
        ChainRecord.objects.filter(pk=record.pk, status=Status.SUBMITTED).update(error=exc.message)
        return
    signed = client.sign_record(bet_hash=record.bet_hash, win_amount=record.win_amount, nonce=record.nonce, fees=fees)
    if not chain_record_move(
        record_id=record.pk,
        old=Status.SUBMITTED,
        new=Status.SUBMITTED,
        expect_tx_hash=record.tx_hash,
        tx_hash=signed.tx_hash,
        tx_hashes=[*(record.tx_hashes or [record.tx_hash]), signed.tx_hash],
        max_fee_per_gas=fees.max_fee_per_gas,
        max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
        submitted_at=timezone.now(),
        attempts=attempts_plus_one(),
    ):
        return
    try:
        client.send(signed)
    except ChainRejected as exc:
        # Most often the original was mined meanwhile (nonce too low): the next sweep sees it.
        ChainRecord.objects.filter(pk=record.pk, status=Status.SUBMITTED).update(error=exc.message)
        log.warning("chain.replace_refused", record=record.pk, error=exc.message)
        return
    CHAIN_TRANSACTIONS.labels("replaced").inc()
    report.replaced += 1
    log.warning("chain.replaced", record=record.pk, nonce=record.nonce, tx_hash=signed.tx_hash)
