"""`manage.py run_local_chain`, the demo's chain, as the process manager runs and stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ledger.chain.local import free_port
from ledger.models import ChainDeployment
from tests.processes import ROOT, child_env, port_open

pytestmark = pytest.mark.django_db(transaction=True)


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes], limit_s: float = 120) -> None:
    deadline = time.monotonic() + limit_s  # a guard against a hang, not a measure of speed
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, f"run_local_chain exited early:\n{log.read_text(errors='replace')}"
        assert time.monotonic() < deadline, f"no {text!r} from run_local_chain:\n{log.read_text(errors='replace')}"
        time.sleep(0.2)


def test_sigterm_stops_the_chain_and_keeps_its_state(tmp_path: Path) -> None:
    """The process manager stops every line with SIGTERM: the command must exit, stopping its
    anvil (which writes its state on the way out) rather than hang until it is killed."""
    port, state_dir, log = free_port(), tmp_path / "anvil", tmp_path / "chain.log"
    env = child_env(
        LEDGER_NETWORK="anvil",
        LEDGER_PRIVATE_KEY="",
        POLYGON_RPC_URL="",
        LEDGER_CHAIN_ID="",
        LEDGER_CONTRACT_ADDRESS="",
        LEDGER_ANVIL_PORT=str(port),
        LEDGER_ANVIL_STATE_DIR=str(state_dir),
    )
    with log.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "run_local_chain"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_for(log, "BetLedger at", process)
        assert port_open(port)
        process.send_signal(signal.SIGTERM)
        returncode = process.wait(timeout=30)  # a deadlock shows as a timeout here
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert returncode == 0, log.read_text(errors="replace")
    assert (state_dir / "state.json").stat().st_size > 0
    assert not port_open(port)
    deployment = ChainDeployment.objects.get(chain_id=31337)
    assert deployment.address in log.read_text()
