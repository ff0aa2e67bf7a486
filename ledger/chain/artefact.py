"""The compiled BetLedger contract (contracts/BetLedger.json, made by scripts/compile_contracts.js)."""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class Artefact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    compiler: str

    @property
    def bytecode_sha256(self) -> str:
        return hashlib.sha256(bytes.fromhex(self.bytecode.removeprefix("0x"))).hexdigest()


@functools.cache
def bet_ledger_artefact() -> Artefact:
    data = json.loads((settings.BASE_DIR / "contracts" / "BetLedger.json").read_text())
    return Artefact(
        name=data["contractName"], abi=data["abi"], bytecode=data["bytecode"], compiler=data["compiler"]["version"]
    )


def bet_hash(subject_id: int) -> str:
    """SHA-256 of the slip id's decimal form, hex: what the chain knows the slip by."""
    return hashlib.sha256(str(subject_id).encode()).hexdigest()
