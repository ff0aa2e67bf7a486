"""Select big wins and anchor pending chain records now (what the beat task does)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from ledger.chain.anchoring import big_wins_anchor
from ledger.chain.candidates import NO_SOURCE_MESSAGE


class Command(BaseCommand):
    help = "Record big wins on the chain: request records for new ones, send pending ones, confirm sent ones."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="Say what would be requested and sent; change nothing."
        )
        parser.add_argument("--limit", type=int, default=None, help="Records per run (default LEDGER_BATCH_SIZE).")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = big_wins_anchor(dry_run=options["dry_run"], limit=options["limit"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        candidates = report.candidates
        if not candidates.source:
            self.stdout.write(NO_SOURCE_MESSAGE)
        else:
            verb = "would request" if report.dry_run else "requested"
            self.stdout.write(
                f"candidates from {candidates.source}: {candidates.seen} seen, {verb} {candidates.requested}, "
                f"skipped {candidates.skipped}"
            )
        if report.dry_run:
            self.stdout.write(f"dry run: {report.due} pending record(s) due would be sent; nothing changed")
            return
        if report.locked_out:
            self.stdout.write(self.style.WARNING("another anchoring run holds the sender; nothing sent"))
            return
        self.stdout.write(self.style.SUCCESS(report.summary()))
