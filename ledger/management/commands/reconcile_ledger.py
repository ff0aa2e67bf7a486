from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledger.reconcile import reconcile


class Command(BaseCommand):
    help = "Prove the books balance; exits non-zero with a report on any break."

    def handle(self, *args: Any, **options: Any) -> None:
        report = reconcile()
        self.stdout.write(f"transactions: {report.transactions}  postings: {report.postings}")
        for name, total in report.totals.items():
            self.stdout.write(f"  {name:<32} {total:>20}")
        if report.clean:
            self.stdout.write(self.style.SUCCESS("ledger reconciles: no breaks"))
            return
        for name, rows in report.breaks.items():
            self.stdout.write(self.style.ERROR(f"BREAK: {name} ({len(rows)} shown)"))
            for row in rows:
                self.stdout.write(f"    {row}")
        raise CommandError(f"ledger does not reconcile: {len(report.breaks)} kind(s) of break")
