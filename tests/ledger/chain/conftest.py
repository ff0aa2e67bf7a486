"""The chain in tests: eth-tester (py-evm) in process, and anvil over JSON-RPC on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from web3 import EthereumTesterProvider, Web3

from ledger.chain.client import ChainClient
from ledger.chain.config import ANVIL_CHAIN_ID, chain_config
from ledger.chain.deploy import bet_ledger_deploy
from ledger.chain.local import Anvil, free_port
from tests.ledger.chain.helpers import FAST, TESTER_KEY, anvil_client


@pytest.fixture(scope="session")
def tester_w3() -> Web3:
    """One in-process chain for the session (py-evm is slow to start); each test deploys its own
    contract on it, so tests do not see each other's records."""
    return Web3(EthereumTesterProvider())


@pytest.fixture
def make_tester_client(tester_w3: Web3, db: Any) -> Callable[..., ChainClient]:
    """A client on a fresh in-process chain with BetLedger deployed; overrides go to its config."""

    def make(**overrides: Any) -> ChainClient:
        config = chain_config(
            **{
                **FAST,
                "network": "eth-tester",
                "rpc_url": "eth-tester://",
                "chain_id": int(tester_w3.eth.chain_id),
                "private_key": TESTER_KEY,
                "contract_address": "",
                **overrides,
            }
        )
        client = ChainClient(w3=tester_w3, config=config)
        deployment = bet_ledger_deploy(client=client)
        return client.with_contract(deployment.address)

    return make


@pytest.fixture
def tester_client(make_tester_client: Callable[..., ChainClient]) -> ChainClient:
    return make_tester_client()


@pytest.fixture(scope="session")
def anvil() -> Iterator[Anvil]:
    node = Anvil(port=free_port()).start()
    yield node
    node.stop()


@pytest.fixture
def anvil_settings(settings: Any, anvil: Anvil) -> Any:
    """Point the platform's chain settings at the test's anvil node (the local dev key)."""
    settings.LEDGER_NETWORK = "anvil"
    settings.POLYGON_RPC_URL = anvil.url
    settings.LEDGER_CHAIN_ID = ANVIL_CHAIN_ID
    settings.LEDGER_PRIVATE_KEY = ""
    settings.LEDGER_CONTRACT_ADDRESS = ""
    settings.LEDGER_RECEIPT_WAIT_S = FAST["receipt_wait_s"]
    settings.LEDGER_MIN_PRIORITY_FEE_WEI = FAST["min_priority_fee_wei"]
    settings.LEDGER_CONFIRMATIONS = 1
    return settings


@pytest.fixture
def anvil_deployed(anvil: Anvil, db: Any) -> ChainClient:
    """A fresh BetLedger on the shared anvil node, and a client for it."""
    client = anvil_client(anvil.url)
    return client.with_contract(bet_ledger_deploy(client=client).address)
