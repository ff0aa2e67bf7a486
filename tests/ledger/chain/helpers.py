"""Helpers for the chain tests (keys, mining, clients)."""

from __future__ import annotations

from typing import Any

from web3 import EthereumTesterProvider, Web3

from ledger.chain.client import ChainClient
from ledger.chain.config import ANVIL_CHAIN_ID, ANVIL_DEV_KEY, chain_config

TESTER_KEY = "0x" + "00" * 31 + "01"  # eth-tester's first funded account
# Some other account (funded with anvil_setBalance in the test), never the recorder.
ANVIL_OTHER_KEY = "0x" + "22" * 32

FAST = {
    "receipt_wait_s": 5.0,
    "stuck_after_s": 60,
    "confirmations": 1,
    "retry_base_s": 30,
    "min_priority_fee_wei": 10**9,
}


def mine(w3: Web3, blocks: int = 1) -> None:
    provider = w3.provider
    if isinstance(provider, EthereumTesterProvider):
        provider.ethereum_tester.mine_blocks(blocks)
    else:
        for _ in range(blocks):
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def anvil_client(url: str, **overrides: Any) -> ChainClient:
    config = chain_config(
        **{
            **FAST,
            "network": "anvil",
            "rpc_url": url,
            "chain_id": ANVIL_CHAIN_ID,
            "private_key": ANVIL_DEV_KEY,
            "contract_address": "",
            **overrides,
        }
    )
    return ChainClient.connect(config)
