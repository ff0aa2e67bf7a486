"""The one way the platform talks to the chain: a web3 client for one sender and one contract.

Transactions are signed here (EIP-1559, type 2) with explicit nonces chosen by the caller, so
a batch can be pipelined and a stuck transaction replaced at its nonce. Every RPC goes through
`_rpc`, which turns a node that does not answer into `ChainUnavailable` and counts the call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import requests
import structlog
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import (
    ProviderConnectionError,
    RequestTimedOut,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.providers.rpc.utils import ExceptionRetryConfiguration

from core.errors import ApplicationError
from core.metrics import OUTBOUND_CALLS
from ledger.chain.artefact import bet_ledger_artefact
from ledger.chain.config import ChainConfig, ChainMisconfigured, ChainUnavailable

log = structlog.get_logger(__name__)
T = TypeVar("T")

RECORD_BET_SELECTOR = bytes(Web3.keccak(text="recordBet(bytes32,uint256)")[:4])
_UNREACHABLE = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ProviderConnectionError,
    RequestTimedOut,
)


class ChainRejected(ApplicationError):
    """The node refused a transaction (nonce too low, underpriced, ...)."""

    status_code = 502
    code = "chain_rejected"


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


@dataclass(frozen=True)
class SignedTx:
    tx_hash: str
    raw: bytes
    nonce: int
    fees: Fees


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    succeeded: bool
    block_number: int
    gas_used: int


@dataclass(frozen=True)
class OnChainRecord:
    win_amount: int
    timestamp: int
    recorder: str

    @property
    def exists(self) -> bool:
        return self.timestamp != 0


def _hex(value: bytes | str) -> str:
    text = value if isinstance(value, str) else value.hex()
    return text if text.startswith("0x") else "0x" + text


def _hash32(bet_hash: str) -> bytes:
    return bytes.fromhex(bet_hash.removeprefix("0x"))


class ChainClient:
    def __init__(self, *, w3: Web3, config: ChainConfig, contract_address: str = "") -> None:
        self.w3 = w3
        self.config = config
        self.account: LocalAccount = Account.from_key(config.private_key)
        self.sender = self.account.address
        self.contract_address = Web3.to_checksum_address(contract_address) if contract_address else ""
        self._block_times: dict[int, datetime] = {}

    @classmethod
    def connect(cls, config: ChainConfig, *, contract_address: str = "") -> ChainClient:
        retry = ExceptionRetryConfiguration(
            errors=(requests.exceptions.ConnectionError, requests.exceptions.Timeout), retries=2, backoff_factor=0.2
        )
        provider = Web3.HTTPProvider(
            config.rpc_url, request_kwargs={"timeout": config.timeout_s}, exception_retry_configuration=retry
        )
        return cls(w3=Web3(provider), config=config, contract_address=contract_address)

    def with_contract(self, address: str) -> ChainClient:
        return ChainClient(w3=self.w3, config=self.config, contract_address=address)

    @property
    def contract(self) -> type[Contract] | Contract:
        if not self.contract_address:
            raise ChainMisconfigured("No BetLedger contract is configured: run `manage.py deploy_bet_ledger`.")
        return self.w3.eth.contract(address=self.contract_address, abi=bet_ledger_artefact().abi)  # type: ignore[call-overload]

    def _rpc(self, what: str, call: Callable[[], T]) -> T:
        try:
            result = call()
        except _UNREACHABLE as exc:
            OUTBOUND_CALLS.labels("chain", "error").inc()
            log.warning("chain.unreachable", call=what, rpc=self.config.rpc_url, error=type(exc).__name__)
            raise ChainUnavailable(
                f"The chain node did not answer ({type(exc).__name__}).", details={"network": self.config.network}
            ) from exc
        OUTBOUND_CALLS.labels("chain", "ok").inc()
        return result

    # --- reads ----------------------------------------------------------------------------------
    def node_chain_id(self) -> int:
        return self._rpc("chain_id", lambda: int(self.w3.eth.chain_id))

    def block_number(self) -> int:
        return self._rpc("block_number", lambda: int(self.w3.eth.block_number))

    def block_time(self, block_number: int) -> datetime:
        if block_number not in self._block_times:
            block = self._rpc("get_block", lambda: self.w3.eth.get_block(block_number))
            self._block_times[block_number] = datetime.fromtimestamp(int(block["timestamp"]), tz=UTC)
        return self._block_times[block_number]

    def has_code(self, address: str) -> bool:
        code = self._rpc("get_code", lambda: self.w3.eth.get_code(Web3.to_checksum_address(address)))
        return len(code) > 0

    def nonce(self, block: str = "pending") -> int:
        return self._rpc("nonce", lambda: int(self.w3.eth.get_transaction_count(self.sender, block)))  # type: ignore[arg-type]

    def recorder(self) -> str:
        return str(self._rpc("recorder", lambda: self.contract.functions.recorder().call()))

    def bet_record(self, bet_hash: str) -> OnChainRecord:
        amount, timestamp, recorder = self._rpc(
            "getBetRecord", lambda: self.contract.functions.getBetRecord(_hash32(bet_hash)).call()
        )
        return OnChainRecord(win_amount=int(amount), timestamp=int(timestamp), recorder=str(recorder))

    def bet_exists(self, bet_hash: str) -> bool:
        return bool(self._rpc("betExists", lambda: self.contract.functions.betExists(_hash32(bet_hash)).call()))

    def stats(self) -> tuple[int, int]:
        count, total = self._rpc("getStats", lambda: self.contract.functions.getStats().call())
        return int(count), int(total)

    def record_log(self, bet_hash: str, *, from_block: int = 0) -> Receipt | None:
        """The transaction that recorded this bet, found by its event (the bet hash is indexed)."""
        event = self.contract.events.BetRecorded()
        logs = self._rpc(
            "get_logs",
            lambda: event.get_logs(from_block=from_block, argument_filters={"betHash": _hash32(bet_hash)}),
        )
        if not logs:
            return None
        return self.receipt(_hex(logs[0]["transactionHash"]))

    def receipt(self, tx_hash: str) -> Receipt | None:
        try:
            data = self._rpc("receipt", lambda: self.w3.eth.get_transaction_receipt(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        if data is None or data.get("blockNumber") is None:
            return None
        return Receipt(
            tx_hash=_hex(data["transactionHash"]),
            succeeded=int(data["status"]) == 1,
            block_number=int(data["blockNumber"]),
            gas_used=int(data["gasUsed"]),
        )

    def tx_known(self, tx_hash: str) -> bool:
        """Whether the node still holds the transaction (mined or in its pool)."""
        try:
            self._rpc("get_transaction", lambda: self.w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        return True

    def wait_receipts(self, tx_hashes: list[str], *, timeout_s: float, poll_s: float = 0.25) -> dict[str, Receipt]:
        found: dict[str, Receipt] = {}
        deadline = time.monotonic() + timeout_s
        while True:
            for tx_hash in tx_hashes:
                if tx_hash not in found and (receipt := self.receipt(tx_hash)) is not None:
                    found[tx_hash] = receipt
            if len(found) == len(tx_hashes) or time.monotonic() >= deadline:
                return found
            time.sleep(poll_s)

    # --- fees and transactions ------------------------------------------------------------------
    def suggest_fees(self) -> Fees:
        """EIP-1559: tip at least the network's floor; max fee twice the base fee plus the tip."""
        block = self._rpc("get_block", lambda: self.w3.eth.get_block("latest"))
        base_fee = int(block.get("baseFeePerGas") or 0)
        try:
            node_tip = int(self._rpc("max_priority_fee", lambda: self.w3.eth.max_priority_fee))
        except (Web3RPCError, ValueError):
            node_tip = 0
        tip = max(node_tip, self.config.min_priority_fee_wei)
        return self._capped(Fees(max_fee_per_gas=2 * base_fee + tip, max_priority_fee_per_gas=tip), base_fee)

    def bumped_fees(self, previous: Fees) -> Fees:
        """Fees for a replacement: at least FEE_BUMP_PCT above the stuck ones, and above today's."""
        current = self.suggest_fees()
        factor = 100 + self.config.fee_bump_pct
        tip = max(math.ceil(previous.max_priority_fee_per_gas * factor / 100), current.max_priority_fee_per_gas)
        max_fee = max(math.ceil(previous.max_fee_per_gas * factor / 100), current.max_fee_per_gas, tip)
        return self._capped(Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip), 0)

    def _capped(self, fees: Fees, base_fee: int) -> Fees:
        cap = self.config.max_fee_wei
        if fees.max_fee_per_gas <= cap:
            return fees
        if base_fee + fees.max_priority_fee_per_gas > cap or fees.max_priority_fee_per_gas > cap:
            raise ChainRejected(
                "Gas is dearer than LEDGER_MAX_FEE_WEI allows; waiting for cheaper blocks.",
                code="chain_fee_cap",
                details={"max_fee_per_gas": fees.max_fee_per_gas, "cap": cap},
            )
        return Fees(max_fee_per_gas=cap, max_priority_fee_per_gas=fees.max_priority_fee_per_gas)

    def sign_record(self, *, bet_hash: str, win_amount: int, nonce: int, fees: Fees) -> SignedTx:
        # encoded by hand: web3's encode_abi looks the function up in the ABI on every call
        data = "0x" + (RECORD_BET_SELECTOR + abi_encode(["bytes32", "uint256"], [_hash32(bet_hash), win_amount])).hex()
        return self._sign({"to": self.contract_address, "data": data, "gas": self.config.gas_limit}, nonce, fees)

    def _sign(self, fields: dict[str, Any], nonce: int, fees: Fees) -> SignedTx:
        tx = {
            **fields,
            "type": 2,
            "chainId": self.config.chain_id,
            "nonce": nonce,
            "value": 0,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        }
        signed = self.account.sign_transaction(tx)
        return SignedTx(tx_hash=_hex(signed.hash), raw=bytes(signed.raw_transaction), nonce=nonce, fees=fees)

    def send(self, signed: SignedTx) -> None:
        """Broadcast; a node that already has the transaction is not an error."""
        try:
            self._rpc("send_raw_transaction", lambda: self.w3.eth.send_raw_transaction(signed.raw))
        except (Web3RPCError, ValueError) as exc:
            message = str(exc)
            if "already known" in message.lower() or "already imported" in message.lower():
                return
            raise ChainRejected(
                f"The node refused the transaction: {message}", details={"nonce": signed.nonce}
            ) from exc

    def deploy(self, *, recorder: str = "") -> tuple[str, Receipt]:
        """Deploy BetLedger from the sender; the recorder defaults to the sender."""
        artefact = bet_ledger_artefact()
        factory = self.w3.eth.contract(abi=artefact.abi, bytecode=artefact.bytecode)
        recorder_address = Web3.to_checksum_address(recorder) if recorder else self.sender
        data = factory.constructor(recorder_address).data_in_transaction
        signed = self._sign({"data": data, "gas": 1_500_000}, self.nonce("pending"), self.suggest_fees())
        self.send(signed)
        try:
            raw = self._rpc(
                "wait_receipt",
                lambda: self.w3.eth.wait_for_transaction_receipt(signed.tx_hash, timeout=120, poll_latency=0.2),  # type: ignore[arg-type]
            )
        except TimeExhausted as exc:
            raise ChainUnavailable("The deployment was not mined within 120 s.") from exc
        if int(raw["status"]) != 1 or not raw.get("contractAddress"):
            raise ChainRejected("The deployment reverted.", details={"tx_hash": signed.tx_hash})
        receipt = Receipt(
            tx_hash=signed.tx_hash, succeeded=True, block_number=int(raw["blockNumber"]), gas_used=int(raw["gasUsed"])
        )
        return str(raw["contractAddress"]), receipt
