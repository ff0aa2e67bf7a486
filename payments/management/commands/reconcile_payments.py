from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from payments.topup.reconcile import topup_reconcile
from payments.treasury.reconcile import treasury_reconcile


class Command(BaseCommand):
    help = (
        "Compare top-ups with the provider (one query per open top-up) and both rails with the ledger; "
        "list the differences and exit non-zero when there are any."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--resolve", action="store_true", help="Settle processing top-ups the provider has settled."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        differences = [*topup_reconcile(resolve=options["resolve"]), *treasury_reconcile()]
        if not differences:
            self.stdout.write(self.style.SUCCESS("payments reconcile: no differences"))
            return
        self.stdout.write(f"{'subject':<50} {'ours':<20} {'provider / expected':<24} note")
        for d in differences:
            self.stdout.write(f"{d.subject:<50} {d.ours:<20} {d.theirs:<24} {d.note}")
        unresolved = [d for d in differences if not d.note.startswith("resolved")]
        if unresolved:
            raise CommandError(f"{len(unresolved)} difference(s) need an operator")
        self.stdout.write(self.style.SUCCESS(f"{len(differences)} difference(s), all resolved"))
