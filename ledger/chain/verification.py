"""Tamper evidence: every confirmed record read back from the chain and compared with ours."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog

from ledger.chain.artefact import bet_hash
from ledger.chain.client import ChainClient
from ledger.chain.deploy import connected_client
from ledger.models import ChainRecord

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Mismatch:
    record_id: int
    subject_id: int
    problem: str  # hash | amount | missing
    ours: str
    on_chain: str

    def __str__(self) -> str:
        return (
            f"record {self.record_id} (slip {self.subject_id}): {self.problem} ours={self.ours} chain={self.on_chain}"
        )


@dataclass
class VerifyReport:
    checked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.mismatches


def chain_records_verify(*, client: ChainClient | None = None, chunk: int = 500) -> VerifyReport:
    """The chain is read at the hash of the slip id (not at the hash we stored, which may have
    been altered with the rest of the row), from the contract that record was sent to."""
    client = client or connected_client(deploy_if_missing=False)
    report = VerifyReport()
    clients: dict[str, ChainClient] = {}
    last_id = 0
    while True:
        records = list(
            ChainRecord.objects.filter(status=ChainRecord.Status.CONFIRMED, id__gt=last_id).order_by("id")[:chunk]
        )
        if not records:
            break
        for record in records:
            report.checked += 1
            address = record.contract_address or client.contract_address
            reader = clients.setdefault(address, client.with_contract(address))
            expected = bet_hash(record.subject_id)
            if record.bet_hash != expected:
                report.mismatches.append(Mismatch(record.pk, record.subject_id, "hash", record.bet_hash, expected))
            on_chain = reader.bet_record(expected)
            if not on_chain.exists:
                report.mismatches.append(Mismatch(record.pk, record.subject_id, "missing", str(record.win_amount), "-"))
            elif on_chain.win_amount != record.win_amount:
                report.mismatches.append(
                    Mismatch(record.pk, record.subject_id, "amount", str(record.win_amount), str(on_chain.win_amount))
                )
        last_id = records[-1].pk
    for mismatch in report.mismatches:
        log.error("chain.verify_mismatch", record=mismatch.record_id, problem=mismatch.problem)
    log.info("chain.verified", checked=report.checked, mismatches=len(report.mismatches))
    return report
