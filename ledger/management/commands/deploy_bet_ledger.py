"""Deploy BetLedger to the configured network and print its address."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from ledger.chain.client import ChainClient
from ledger.chain.config import ChainMisconfigured, chain_config
from ledger.chain.deploy import bet_ledger_deploy


class Command(BaseCommand):
    help = "Deploy the BetLedger contract (contracts/BetLedger.json) and print its address."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--recorder", default="", help="The account allowed to record (default: the deployer).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            config = chain_config()
            client = ChainClient.connect(config)
            node_chain = client.node_chain_id()
            if node_chain != config.chain_id:
                raise ChainMisconfigured(f"The node serves chain {node_chain}, not the configured {config.chain_id}.")
            deployment = bet_ledger_deploy(client=client, recorder=options["recorder"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stderr.write(
            f"deployed on {deployment.network} (chain {deployment.chain_id}) in block {deployment.block_number}, "
            f"tx {deployment.tx_hash}; recorder {deployment.recorder}"
        )
        self.stdout.write(deployment.address)
