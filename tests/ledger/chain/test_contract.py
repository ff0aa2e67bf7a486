"""BetLedger itself, on eth-tester: records, duplicates, who may write; and the artefact."""

from __future__ import annotations

import ast
import subprocess
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_tester.exceptions import TransactionFailed
from web3 import Web3
from web3.exceptions import ContractCustomError

from ledger.chain.artefact import bet_hash, bet_ledger_artefact
from ledger.chain.client import ChainClient

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[3]


def test_committed_artefact_is_what_the_source_compiles_to() -> None:
    result = subprocess.run(
        ["node", "scripts/compile_contracts.js", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "contracts/BetLedger.json matches contracts/BetLedger.sol" in result.stdout
    assert bet_ledger_artefact().compiler.startswith("0.8.37")


def test_bet_hash_is_sha256_of_the_slip_id() -> None:
    # sha256("1"), computed independently
    assert bet_hash(1) == "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"


def _transact(w3: Web3, client: ChainClient, function: Any, sender: str) -> Any:
    tx_hash = function.transact({"from": sender, "gas": 300_000})
    return w3.eth.wait_for_transaction_receipt(tx_hash)


def test_a_record_is_readable_counted_and_announced(tester_client: ChainClient) -> None:
    w3, contract, sender = tester_client.w3, tester_client.contract, tester_client.sender
    first, second = bet_hash(7), bet_hash(8)

    receipt = _transact(w3, tester_client, contract.functions.recordBet(bytes.fromhex(first), 150_000_000), sender)
    _transact(w3, tester_client, contract.functions.recordBet(bytes.fromhex(second), 2), sender)

    record = tester_client.bet_record(first)
    assert (record.win_amount, record.recorder) == (150_000_000, sender)
    assert record.timestamp == w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert tester_client.bet_exists(first) and not tester_client.bet_exists(bet_hash(9))
    assert tester_client.bet_record(bet_hash(9)).exists is False
    assert tester_client.stats() == (2, 150_000_002)
    (event,) = contract.events.BetRecorded().process_receipt(receipt)
    assert event["args"]["betHash"].hex() == first
    assert (event["args"]["recordId"], event["args"]["winAmount"]) == (1, 150_000_000)


def _error_name(data: str) -> str:
    """The custom error a revert carries, by its 4-byte selector."""
    for item in bet_ledger_artefact().abi:
        if item["type"] == "error":
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            if Web3.keccak(text=signature)[:4].hex() == data.removeprefix("0x")[:8]:
                return str(item["name"])
    return data


def _refused(function: Any, sender: str) -> str:
    """Simulate the call (it must revert) and name the contract's error."""
    with pytest.raises((ContractCustomError, TransactionFailed)) as excinfo:
        function.call({"from": sender})
    error = excinfo.value
    if isinstance(error, ContractCustomError):
        return _error_name(str(error.data))
    # eth-tester carries the revert data as the repr of its bytes
    raw = ast.literal_eval(str(error).split("execution reverted: ", 1)[1])
    return _error_name(raw.hex())


def test_a_duplicate_is_rejected(tester_client: ChainClient) -> None:
    w3, contract, sender = tester_client.w3, tester_client.contract, tester_client.sender
    _transact(w3, tester_client, contract.functions.recordBet(bytes.fromhex(bet_hash(7)), 5), sender)

    again = contract.functions.recordBet(bytes.fromhex(bet_hash(7)), 6)
    assert _refused(again, sender) == "DuplicateBet"
    assert _transact(w3, tester_client, again, sender)["status"] == 0  # mined, reverted
    assert tester_client.stats() == (1, 5)
    assert tester_client.bet_record(bet_hash(7)).win_amount == 5


def test_only_the_owners_recorder_may_write(tester_client: ChainClient) -> None:
    w3, contract = tester_client.w3, tester_client.contract
    owner, stranger = tester_client.sender, w3.eth.accounts[1]
    payload = contract.functions.recordBet(bytes.fromhex(bet_hash(1)), 5)

    assert _refused(payload, stranger) == "NotRecorder"
    assert _transact(w3, tester_client, payload, stranger)["status"] == 0
    assert _refused(contract.functions.setRecorder(stranger), stranger) == "NotOwner"
    assert tester_client.stats() == (0, 0)

    assert _transact(w3, tester_client, contract.functions.setRecorder(stranger), owner)["status"] == 1
    assert tester_client.recorder() == stranger
    assert _refused(payload, owner) == "NotRecorder"  # the owner is no longer the recorder
    assert _transact(w3, tester_client, payload, stranger)["status"] == 1
    assert tester_client.stats() == (1, 5)


def test_zero_hash_and_zero_amount_are_refused(tester_client: ChainClient) -> None:
    contract, sender = tester_client.contract, tester_client.sender
    assert _refused(contract.functions.recordBet(b"\x00" * 32, 5), sender) == "EmptyBetHash"
    assert _refused(contract.functions.recordBet(bytes.fromhex(bet_hash(1)), 0), sender) == "ZeroWinAmount"
    assert tester_client.stats() == (0, 0)


def test_signed_transactions_are_eip1559_from_our_key(tester_client: ChainClient) -> None:
    fees = tester_client.suggest_fees()
    signed = tester_client.sign_record(bet_hash=bet_hash(3), win_amount=9, nonce=tester_client.nonce(), fees=fees)
    tester_client.send(signed)
    tx = tester_client.w3.eth.get_transaction(signed.tx_hash)
    assert tx["type"] == 2
    assert tx["from"] == Account.from_key("0x" + "00" * 31 + "01").address
    assert tx["maxPriorityFeePerGas"] >= 10**9
    assert tx["maxFeePerGas"] >= tx["maxPriorityFeePerGas"]
    assert tester_client.receipt(signed.tx_hash).succeeded  # type: ignore[union-attr]
