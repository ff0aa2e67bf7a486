"""`manage.py run_payouts [--dry-run] [--force]`: one payout run from the command line."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from payments.models import PayoutRun
from payments.payouts.api_ops import report_json
from payments.payouts.runs import payouts_cron_run


class Command(BaseCommand):
    help = "Pay the due payouts now (with --force) or when a schedule's time has come; --dry-run changes nothing."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Say what a run would pay; change nothing.")
        parser.add_argument("--force", action="store_true", help="Run even if no schedule is due.")
        parser.add_argument("--batch-size", type=int, default=None)
        parser.add_argument("--max-retries", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = payouts_cron_run(
                force=options["force"],
                dry_run=options["dry_run"],
                batch_size=options["batch_size"],
                max_retries=options["max_retries"],
                trigger=PayoutRun.Trigger.COMMAND,
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        if report is None:
            self.stdout.write("No scheduled payout run is due (use --force to run anyway).")
            return
        self.stdout.write(json.dumps(report_json(report), indent=2, default=str))
        if report.status == PayoutRun.Status.FAILED:
            raise CommandError(f"the run failed: {report.stop_reason}")
