"""Settle the bets of finished events now, or say what would be settled (`--dry-run`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand

from betting.models import Event
from ledger.currencies import format_amount
from settlement.models import SettlementRun
from settlement.services.events import EventReport
from settlement.services.runs import settlement_run_create, settlement_run_execute


class Command(BaseCommand):
    help = "Settle every event due (or --event ID), printing what was done per event and in total."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--event", type=int, action="append", dest="events", help="Only this event (repeatable).")
        parser.add_argument("--dry-run", action="store_true", help="Say what would be settled; change nothing.")
        parser.add_argument("--sync", action="store_true", help="Pull results from the feed first.")

    def handle(self, *args: Any, **options: Any) -> None:
        dry_run = options["dry_run"]
        names = dict(Event.objects.values_list("pk", "name"))
        totals: Counter[str] = Counter()
        money: dict[str, Counter[str]] = {}
        verb = "would settle" if dry_run else "settled"

        def progress(report: EventReport) -> None:
            self.stdout.write(self._event_line(report, names.get(report.event_id, "?"), verb))
            totals.update(
                events=1, settled=report.settled, resettled=report.resettled, waiting=report.waiting,
                failed=report.failed,
            )  # fmt: skip
            totals.update(report.by_status)
            for currency, figures in report.money.items():
                money.setdefault(currency, Counter()).update(figures)

        targets: list[int | None] = list(options["events"] or [None])
        runs = []
        for event_id in targets:
            run = settlement_run_create(
                trigger=SettlementRun.Trigger.COMMAND,
                event_id=event_id,
                sync_feed=options["sync"] and event_id is None,
                dry_run=dry_run,
                requested_by="manage.py settle_bets",
            )
            runs.append(settlement_run_execute(run_id=run.pk, progress=progress))
        if not totals["events"]:
            self.stdout.write("no event has settlement due")
        paid = "; ".join(
            f"{currency}: staked {format_amount(f['stake'], currency)}, paid {format_amount(f['payout'], currency)}"
            for currency, f in sorted(money.items())
        )
        self.stdout.write(
            f"total: {totals['events']} event(s), {verb} {totals['settled']} slip(s) "
            f"(won {totals['won']}, lost {totals['lost']}, void {totals['void']}), "
            f"resettled {totals['resettled']}, waiting {totals['waiting']}" + (f"; {paid}" if paid else "")
        )
        for run in runs:
            style = self.style.SUCCESS if run.status == SettlementRun.Status.SUCCEEDED else self.style.ERROR
            self.stdout.write(style(f"run {run.pk}: {run.status}" + (" (dry run: nothing kept)" if dry_run else "")))
            for error in run.errors:
                self.stdout.write(self.style.ERROR(f"  error: {error}"))

    @staticmethod
    def _event_line(report: EventReport, name: str, verb: str) -> str:
        grading = report.grading
        state = f"{grading.status}, result v{grading.result_version}" if grading else "?"
        parts = [
            f"event {report.event_id} {name} ({state}): {verb} {report.settled} "
            f"(won {report.by_status['won']}, lost {report.by_status['lost']}, void {report.by_status['void']})",
            f"resettled {report.resettled}, waiting {report.waiting}",
        ]
        if grading and grading.ignored_correction:
            parts.append("correction after the resettlement window ignored")
        if report.ungraded:
            parts.append("ungraded legs: " + ", ".join(f"{k} {v}" for k, v in report.ungraded.items()))
        for currency, figures in report.money.items():
            parts.append(
                f"{currency} staked {format_amount(figures['stake'], currency)}, "
                f"paid {format_amount(figures['payout'], currency)}"
            )
        if report.failed:
            parts.append(f"{report.failed} slip(s) failed")
        return ", ".join(parts)
