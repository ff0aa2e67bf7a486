"""Deploying BetLedger and finding it: LEDGER_CONTRACT_ADDRESS, else the last deployment on
this chain that still has code (a local anvil that restarted empty has none)."""

from __future__ import annotations

import structlog
from django.utils import timezone
from web3 import Web3

from ledger.chain.artefact import bet_ledger_artefact
from ledger.chain.client import ChainClient
from ledger.chain.config import ChainConfig, ChainMisconfigured, chain_config
from ledger.models import ChainDeployment

log = structlog.get_logger(__name__)


def bet_ledger_deploy(*, client: ChainClient, recorder: str = "") -> ChainDeployment:
    """Deploy the contract (a network call, so no transaction is open) and remember where."""
    address, receipt = client.deploy(recorder=recorder)
    # A local chain that restarted empty hands out the same address again: the row is updated.
    deployment, _ = ChainDeployment.objects.update_or_create(
        chain_id=client.config.chain_id,
        address=Web3.to_checksum_address(address),
        defaults={
            "network": client.config.network,
            "tx_hash": receipt.tx_hash,
            "block_number": receipt.block_number,
            "deployer": client.sender,
            "recorder": Web3.to_checksum_address(recorder) if recorder else client.sender,
            "bytecode_sha256": bet_ledger_artefact().bytecode_sha256,
            "created_at": timezone.now(),
        },
    )
    log.info("chain.deployed", address=deployment.address, network=deployment.network, tx_hash=receipt.tx_hash)
    return deployment


def bet_ledger_address(*, client: ChainClient, deploy_if_missing: bool = False) -> str:
    """The contract to write to; on a throwaway local chain, deployed again when it is gone."""
    config = client.config
    if config.contract_address:
        if not client.has_code(config.contract_address):
            raise ChainMisconfigured(
                f"LEDGER_CONTRACT_ADDRESS {config.contract_address} holds no contract on {config.network}.",
            )
        return Web3.to_checksum_address(config.contract_address)
    deployment = ChainDeployment.objects.filter(chain_id=config.chain_id).order_by("-id").first()
    if deployment is not None and client.has_code(deployment.address):
        return deployment.address
    if not deploy_if_missing:
        raise ChainMisconfigured(
            f"No BetLedger contract on {config.network} (chain {config.chain_id}): run `manage.py deploy_bet_ledger`.",
        )
    if deployment is not None:
        log.warning("chain.contract_gone", address=deployment.address, network=config.network)
    return bet_ledger_deploy(client=client).address


def deployment_block(*, chain_id: int, address: str) -> int:
    deployment = ChainDeployment.objects.filter(chain_id=chain_id, address=address).first()
    return deployment.block_number if deployment else 0


def connected_client(*, config: ChainConfig | None = None, deploy_if_missing: bool | None = None) -> ChainClient:
    """A client for the configured network, pointed at the live contract."""
    config = config or chain_config()
    client = ChainClient.connect(config)
    node_chain = client.node_chain_id()
    if node_chain != config.chain_id:
        raise ChainMisconfigured(
            f"The node at the RPC URL serves chain {node_chain}, not the configured {config.chain_id}.",
        )
    deploy = config.is_local_dev if deploy_if_missing is None else deploy_if_missing
    return client.with_contract(bet_ledger_address(client=client, deploy_if_missing=deploy))
