"""The demo's chain: anvil on 127.0.0.1:LEDGER_ANVIL_PORT (its state kept in
LEDGER_ANVIL_STATE_DIR, var/anvil/ unless set), with BetLedger deployed on first start, or again
when the node forgot it."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from ledger.chain.config import chain_config
from ledger.chain.deploy import connected_client
from ledger.chain.local import Anvil


class Command(BaseCommand):
    help = "Run a local anvil node for the demo and make sure BetLedger is deployed on it."

    def handle(self, *args: Any, **options: Any) -> None:
        config = chain_config()
        if not config.is_local_dev:
            self.stdout.write(f"the ledger uses {config.network} ({config.rpc_url}); no local chain needed")
            with contextlib.suppress(KeyboardInterrupt):
                threading.Event().wait()  # stay up: the process manager stops everything when one line exits
            return
        state_dir = settings.LEDGER_ANVIL_STATE_DIR
        state_dir.mkdir(parents=True, exist_ok=True)
        anvil = Anvil(port=settings.LEDGER_ANVIL_PORT, state_path=state_dir / "state.json")
        # SIGTERM (the process manager's stop) unwinds like Ctrl-C, and `finally` stops anvil.
        # Stopping it inside the handler deadlocked: the handler interrupts `anvil.wait()`, which
        # holds the subprocess's wait lock that stopping needs.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        try:
            anvil.start()
            client = connected_client(config=config, deploy_if_missing=True)
            self.stdout.write(f"anvil on {anvil.url}; BetLedger at {client.contract_address}", ending="\n")
            self.stdout.flush()
            anvil.wait()
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        except KeyboardInterrupt:
            pass
        finally:
            anvil.stop()
