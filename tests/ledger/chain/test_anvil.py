"""Integration against anvil over JSON-RPC on 127.0.0.1 (npm @foundry-rs/anvil)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from eth_account import Account

from core.errors import DependencyDown
from ledger.chain.anchoring import chain_records_anchor
from ledger.chain.artefact import bet_hash
from ledger.chain.client import ChainClient
from ledger.chain.deploy import bet_ledger_deploy
from ledger.chain.local import Anvil, free_port
from ledger.chain.services import chain_record_request, chain_record_retry
from ledger.models import ChainDeployment, ChainRecord
from tests.ledger.chain.helpers import ANVIL_OTHER_KEY, anvil_client, mine

pytestmark = pytest.mark.django_db
Status = ChainRecord.Status


def _request(*ids: int) -> list[ChainRecord]:
    return [chain_record_request(subject_id=i, win_amount=200_000_000 + i, currency="NGN") for i in ids]


def _set_automine(client: ChainClient, on: bool) -> None:
    client.w3.provider.make_request("evm_setAutomine", [on])  # type: ignore[arg-type]


def test_deploy_command_prints_the_address_and_anchoring_uses_it(anvil_settings: Any) -> None:
    out = StringIO()
    call_command("deploy_bet_ledger", stdout=out, stderr=StringIO())

    address = out.getvalue().strip()
    deployment = ChainDeployment.objects.get()
    assert address == deployment.address and deployment.chain_id == 31337
    client = anvil_client(anvil_settings.POLYGON_RPC_URL).with_contract(address)
    assert client.has_code(address) and client.recorder() == client.sender

    _request(1, 2, 3, 4)
    out = StringIO()
    call_command("anchor_big_wins", stdout=out)
    assert "sent 4" in out.getvalue() and "confirmed 4" in out.getvalue()
    assert set(ChainRecord.objects.values_list("contract_address", flat=True)) == {address}
    assert client.stats() == (4, sum(200_000_000 + i for i in (1, 2, 3, 4)))

    call_command("verify_chain_records", stdout=(verified := StringIO()))
    assert "4 confirmed record(s) match the chain" in verified.getvalue()
    ChainRecord.objects.filter(subject_id=3).update(win_amount=1)
    with pytest.raises(CommandError, match="1 mismatch"):
        call_command("verify_chain_records", stdout=(verified := StringIO()))
    assert "amount ours=1 chain=200000003" in verified.getvalue()


def test_a_batch_is_pipelined_and_confirmed_after_its_blocks(anvil_deployed: ChainClient) -> None:
    config = dataclasses.replace(anvil_deployed.config, confirmations=2, receipt_wait_s=2.0)
    client = ChainClient.connect(config, contract_address=anvil_deployed.contract_address)
    _set_automine(client, False)
    try:
        _request(11, 12, 13)
        start = client.nonce("pending")
        report = chain_records_anchor(client=client)
        assert (report.sent, report.confirmed) == (3, 0)
        # all three are in the pool at once, on consecutive nonces: nobody waited for a receipt
        pool = client.w3.provider.make_request("txpool_content", [])["result"]  # type: ignore[arg-type]
        pending = {k.lower(): v for k, v in pool["pending"].items()}[client.sender.lower()]
        assert sorted(int(n) for n in pending) == [start, start + 1, start + 2]

        mine(client.w3, 1)
        chain_records_anchor(client=client)
        records = list(ChainRecord.objects.order_by("id"))
        assert {r.status for r in records} == {Status.SUBMITTED}  # one block deep: not yet
        assert len({r.block_number for r in records}) == 1  # mined together

        mine(client.w3, 1)
        report = chain_records_anchor(client=client)
        assert report.confirmed == 3
        assert set(ChainRecord.objects.values_list("status", flat=True)) == {Status.CONFIRMED}
    finally:
        _set_automine(client, True)


def test_a_reverted_duplicate_is_recognised_and_not_doubled(anvil_deployed: ChainClient) -> None:
    client = anvil_deployed
    (record,) = _request(21)
    chain_records_anchor(client=client)
    record.refresh_from_db()
    assert record.status == Status.CONFIRMED

    # the same bet again, straight to the node with a fixed gas limit: mined, and reverted
    duplicate = client.sign_record(
        bet_hash=bet_hash(21), win_amount=record.win_amount, nonce=client.nonce(), fees=client.suggest_fees()
    )
    client.send(duplicate)
    receipt = client.wait_receipts([duplicate.tx_hash], timeout_s=5)[duplicate.tx_hash]
    assert not receipt.succeeded
    assert client.stats() == (1, record.win_amount)

    # a record whose bet is on chain already (another process sent it): its own send reverts,
    # and the sweep adopts the transaction that did record it
    other = client.sign_record(
        bet_hash=bet_hash(22), win_amount=200_000_022, nonce=client.nonce(), fees=client.suggest_fees()
    )
    client.send(other)
    (second,) = _request(22)
    report = chain_records_anchor(client=client)
    second.refresh_from_db()
    assert second.status == Status.CONFIRMED and second.tx_hash == other.tx_hash
    assert len(second.tx_hashes) == 2 and report.sent == 1  # ours reverted; no second record
    assert client.stats() == (2, record.win_amount + 200_000_022)


def test_a_non_owner_is_refused(anvil_deployed: ChainClient) -> None:
    stranger = ChainClient(
        w3=anvil_deployed.w3,
        config=dataclasses.replace(anvil_deployed.config, private_key=ANVIL_OTHER_KEY),
        contract_address=anvil_deployed.contract_address,
    )
    stranger.w3.provider.make_request("anvil_setBalance", [stranger.sender, hex(10**20)])  # type: ignore[arg-type]
    signed = stranger.sign_record(
        bet_hash=bet_hash(31), win_amount=5, nonce=stranger.nonce(), fees=stranger.suggest_fees()
    )
    stranger.send(signed)
    assert not stranger.wait_receipts([signed.tx_hash], timeout_s=5)[signed.tx_hash].succeeded

    set_recorder = stranger.contract.functions.setRecorder(stranger.sender).build_transaction(
        {"from": stranger.sender, "gas": 100_000, "nonce": stranger.nonce()}
    )
    tx_hash = stranger.w3.eth.send_raw_transaction(
        Account.from_key(ANVIL_OTHER_KEY).sign_transaction(set_recorder).raw_transaction
    )
    assert stranger.w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 0
    assert anvil_deployed.stats() == (0, 0)
    assert anvil_deployed.recorder() == anvil_deployed.sender


def test_a_stuck_transaction_is_replaced_at_its_nonce_with_a_higher_fee(anvil_deployed: ChainClient) -> None:
    client = anvil_deployed
    _set_automine(client, False)
    try:
        (record,) = _request(41)
        chain_records_anchor(client=client)
        record.refresh_from_db()
        assert record.status == Status.SUBMITTED
        first_hash, nonce, first_tip = record.tx_hash, record.nonce, record.max_priority_fee_per_gas

        chain_records_anchor(client=client)  # not yet stuck: left alone
        record.refresh_from_db()
        assert record.tx_hash == first_hash

        with time_machine.travel(timezone.now() + timedelta(seconds=client.config.stuck_after_s + 5), tick=True):
            report = chain_records_anchor(client=client)
        assert report.replaced == 1
        record.refresh_from_db()
        assert record.nonce == nonce and record.tx_hash != first_hash
        assert record.tx_hashes == [first_hash, record.tx_hash]
        assert record.max_priority_fee_per_gas >= first_tip * 125 // 100  # type: ignore[operator]
        assert not client.tx_known(first_hash)  # the node swapped it for the replacement

        mine(client.w3, 1)
        chain_records_anchor(client=client)
        record.refresh_from_db()
        assert record.status == Status.CONFIRMED and record.tx_hash == record.tx_hashes[-1]
        assert client.stats() == (1, record.win_amount)
    finally:
        _set_automine(client, True)


def test_the_node_down_then_back_resumes_without_doubling(tmp_path: Path, db: Any) -> None:
    port = free_port()
    node = Anvil(port=port, state_path=tmp_path / "state.json").start()
    try:
        client = anvil_client(node.url, retry_base_s=30)
        client = client.with_contract(bet_ledger_deploy(client=client).address)
        _request(51, 52, 53)
        _set_automine(client, False)
        chain_records_anchor(client=client)  # three transactions in the pool, none mined
        assert set(ChainRecord.objects.values_list("status", flat=True)) == {Status.SUBMITTED}
        node.stop()

        _request(54)
        with pytest.raises(DependencyDown):
            chain_records_anchor(client=client)
        assert set(ChainRecord.objects.filter(subject_id__lt=54).values_list("status", flat=True)) == {Status.SUBMITTED}

        node = Anvil(port=port, state_path=tmp_path / "state.json").start()  # the pool is gone, the chain is not
        assert client.has_code(client.contract_address)
        with time_machine.travel(timezone.now() + timedelta(seconds=client.config.stuck_after_s + 5), tick=True):
            report = chain_records_anchor(client=client)
            if report.waiting:
                report = chain_records_anchor(client=client)

        assert set(ChainRecord.objects.values_list("status", flat=True)) == {Status.CONFIRMED}
        assert client.stats() == (4, sum(200_000_000 + i for i in (51, 52, 53, 54)))
        for record in ChainRecord.objects.all():
            assert client.bet_record(record.bet_hash).win_amount == record.win_amount
            assert client.receipt(record.tx_hash).succeeded  # type: ignore[union-attr]
    finally:
        node.stop()


def test_a_refused_send_is_retried_with_backoff_then_failed(anvil_deployed: ChainClient) -> None:
    owner = anvil_deployed
    # the recorder is an account with no money: the node refuses its transactions
    broke = ChainClient(
        w3=owner.w3,
        config=dataclasses.replace(owner.config, private_key=ANVIL_OTHER_KEY, max_attempts=3, retry_base_s=30),
        contract_address=owner.contract_address,
    )
    owner.w3.provider.make_request("anvil_setBalance", [broke.sender, "0x0"])  # type: ignore[arg-type]
    appoint = owner.contract.functions.setRecorder(broke.sender).build_transaction(
        {"from": owner.sender, "gas": 100_000, "nonce": owner.nonce()}
    )
    owner.w3.eth.send_raw_transaction(owner.account.sign_transaction(appoint).raw_transaction)
    (record,) = _request(61)

    started = timezone.now()
    chain_records_anchor(client=broke)
    record.refresh_from_db()
    assert (record.status, record.attempts, record.nonce) == (Status.PENDING, 1, None)
    assert "Insufficient funds" in record.error
    assert record.next_attempt_at >= started + timedelta(seconds=30)

    assert chain_records_anchor(client=broke).sent == 0  # not due yet
    with time_machine.travel(timezone.now() + timedelta(seconds=61), tick=True):
        chain_records_anchor(client=broke)
    record.refresh_from_db()
    assert (record.attempts, record.next_attempt_at - timezone.now() > timedelta(seconds=100)) == (2, True)

    with time_machine.travel(timezone.now() + timedelta(seconds=130), tick=True):
        chain_records_anchor(client=broke)
    record.refresh_from_db()
    assert (record.status, record.attempts) == (Status.FAILED, 3)

    # the operator funds the account and retries from the admin's action
    owner.w3.provider.make_request("anvil_setBalance", [broke.sender, hex(10**20)])  # type: ignore[arg-type]
    assert chain_record_retry(record_id=record.pk)
    chain_records_anchor(client=broke)
    record.refresh_from_db()
    assert record.status == Status.CONFIRMED
    assert broke.stats() == (1, record.win_amount)


@pytest.mark.django_db(transaction=True)
def test_two_runs_racing_send_each_record_once(anvil: Anvil) -> None:
    deployer = anvil_client(anvil.url)
    address = bet_ledger_deploy(client=deployer).address
    _request(*range(71, 81))
    reports: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(chain_records_anchor(client=anvil_client(anvil.url).with_contract(address)))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors
    assert sum(r.sent for r in reports) == 10
    chain_records_anchor(client=deployer.with_contract(address))  # whatever is left to confirm
    assert set(ChainRecord.objects.values_list("status", flat=True)) == {Status.CONFIRMED}
    assert deployer.with_contract(address).stats() == (10, sum(200_000_000 + i for i in range(71, 81)))
