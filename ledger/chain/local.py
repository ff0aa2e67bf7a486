"""A local anvil node (npm @foundry-rs/anvil) for the demo, the tests and the benchmark."""

from __future__ import annotations

import platform
import socket
import subprocess
import time
from pathlib import Path

from django.conf import settings

from core.errors import ApplicationError


def anvil_binary() -> Path:
    system = {"Linux": "linux", "Darwin": "darwin"}.get(platform.system(), "win32")
    arch = "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "amd64"
    path = settings.BASE_DIR / "node_modules" / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if not path.exists():
        raise ApplicationError(f"anvil is not installed at {path}: run `npm ci`.", code="anvil_missing")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Anvil:
    """`anvil --host 127.0.0.1 --port N` as a child process; `stop()` ends it (and only it)."""

    def __init__(
        self, *, port: int, state_path: Path | None = None, block_time_s: float | None = None, no_mining: bool = False
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.args = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port), "--silent"]
        if state_path is not None:
            self.args += ["--state", str(state_path)]
        if block_time_s is not None:
            self.args += ["--block-time", str(block_time_s)]
        if no_mining:
            self.args.append("--no-mining")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, timeout_s: float = 20.0) -> Anvil:
        self.process = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ApplicationError(f"anvil exited at start (code {self.process.returncode}).", code="anvil_failed")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ApplicationError(f"anvil did not listen on port {self.port} in {timeout_s} s.", code="anvil_failed")

    def wait(self) -> int:
        assert self.process is not None  # noqa: S101
        return self.process.wait()

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()  # anvil writes its --state file on the way out
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
