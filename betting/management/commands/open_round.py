from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from betting.rounds import nyse
from betting.rounds.services import round_open
from core.errors import ApplicationError


class Command(BaseCommand):
    help = "Open the Up/Down round of a trading day (default: the one taking bets now); idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--code", help="YYYYMMDD, the closing date in America/New_York")
        parser.add_argument("--asset", help="default ROUNDS_ASSET")
        parser.add_argument("--currency", help="default ROUNDS_CURRENCY")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = nyse.parse_code(options["code"]) if options["code"] else None
            opened = round_open(day=day, asset=options["asset"], currency=options["currency"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        lock = opened.lock_at.astimezone(nyse.NEW_YORK).strftime("%Y-%m-%d %H:%M:%S %Z")
        self.stdout.write(self.style.SUCCESS(f"round {opened.code} {opened.asset} {opened.status}: bets until {lock}"))
