"""List pending slips on events that are over, with the reason each has not settled."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from ledger.currencies import format_amount
from settlement.diagnosis import stuck_slips
from settlement.selectors import events_due


class Command(BaseCommand):
    help = "Pending slips on finished (or cancelled, postponed, abandoned) events and why each is still pending."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--limit", type=int, default=200, help="Slips to show (default 200).")
        parser.add_argument("--legs", action="store_true", help="Show every leg's state.")

    def handle(self, *args: Any, **options: Any) -> None:
        total, slips = stuck_slips(limit=options["limit"])
        due = events_due()
        self.stdout.write(
            f"events with settlement due: {len(due)}" + (f" ({', '.join(map(str, due[:20]))})" if due else "")
        )
        if not total:
            self.stdout.write(self.style.SUCCESS("no pending slip on an event that is over"))
            return
        self.stdout.write(
            f"{total} pending slip(s) on events that are over" + (f"; first {len(slips)}" if total > len(slips) else "")
        )
        for slip in slips:
            self.stdout.write(
                f"slip {slip.slip_id} ({slip.type}, {format_amount(slip.stake, slip.currency)}, user {slip.user_id}, "
                f"placed {slip.placed_at:%Y-%m-%d %H:%M}): {slip.reason}"
            )
            if options["legs"]:
                for leg in slip.legs:
                    self.stdout.write(
                        f"    leg {leg.leg_id} event {leg.event_id} ({leg.event_status}) {leg.selection}: {leg.state}, {leg.detail}"
                    )
