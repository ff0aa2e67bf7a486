from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from betting.rounds.selectors import tvl
from ledger.currencies import format_amount


class Command(BaseCommand):
    help = "Value locked per currency: players' wallets, stakes in escrow (Up/Down pools among them)."

    def handle(self, *args: Any, **options: Any) -> None:
        rows = tvl()
        if not rows:
            self.stdout.write("nothing locked")
        for row in rows:
            self.stdout.write(
                f"{row.currency:5} wallets {format_amount(row.wallets, row.currency)}  "
                f"escrow {format_amount(row.escrow, row.currency)}  "
                f"pools {format_amount(row.pools, row.currency)}  "
                f"total {format_amount(row.total, row.currency)}"
            )
