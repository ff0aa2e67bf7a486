from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from betting.rounds.selectors import round_get
from betting.rounds.services import manual_price_set
from betting.rounds.settlement import round_settle
from core.errors import ApplicationError
from ledger.currencies import format_amount


class Command(BaseCommand):
    help = (
        "Settle an Up/Down round: AUTO from the oracle, or an operator's UP, DOWN or VOID. "
        "--close/--reference enter official closes by hand first (they win over the oracle)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--code", required=True, help="YYYYMMDD")
        parser.add_argument("--result", default="AUTO", choices=["AUTO", "UP", "DOWN", "VOID"], type=str.upper)
        parser.add_argument("--close", help="the day's official close, entered by hand")
        parser.add_argument("--reference", help="the previous trading day's official close, entered by hand")
        parser.add_argument("--operator", default="cli", help="who decides, for the record")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            target = round_get(code=options["code"])
            for price, day in ((options["close"], target.trading_date), (options["reference"], target.reference_date)):
                if price is not None:
                    manual_price_set(asset=target.asset, session_date=day, price=price, entered_by=options["operator"])
            by = "oracle" if options["result"] == "AUTO" else f"operator:{options['operator']}"
            outcome = round_settle(code=options["code"], result=options["result"], by=by)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        found = outcome.round
        self.stdout.write(outcome.message)
        if outcome.state == "waiting":
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"round {found.code}: {found.status}, result {found.result}"
                + (f" ({found.void_reason})" if found.void_reason else "")
                + f"; reference {found.reference_price}, close {found.closing_price}; "
                f"paid {format_amount(found.paid_out, found.currency)}, fee {format_amount(found.fee, found.currency)}, "
                f"dust {format_amount(found.dust, found.currency)}"
            )
        )
