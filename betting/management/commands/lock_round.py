from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from betting.rounds.services import round_lock
from core.errors import ApplicationError
from ledger.currencies import format_amount


class Command(BaseCommand):
    help = "Lock an Up/Down round now: no more bets; the pools are final."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--code", required=True, help="YYYYMMDD")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            locked = round_lock(code=options["code"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"round {locked.code} {locked.status}: UP {format_amount(locked.up_pool, locked.currency)} "
                f"({locked.up_bets} bets), DOWN {format_amount(locked.down_pool, locked.currency)} "
                f"({locked.down_bets} bets)"
            )
        )
