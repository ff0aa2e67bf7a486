"""Read every confirmed chain record back from the chain; exit 1 on any mismatch."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from ledger.chain.verification import chain_records_verify


class Command(BaseCommand):
    help = "Compare every confirmed record with the chain (tamper evidence); non-zero exit on a mismatch."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = chain_records_verify()
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        for mismatch in report.mismatches:
            self.stdout.write(self.style.ERROR(str(mismatch)))
        if not report.clean:
            raise CommandError(f"{len(report.mismatches)} mismatch(es) in {report.checked} confirmed record(s)")
        self.stdout.write(self.style.SUCCESS(f"{report.checked} confirmed record(s) match the chain"))
