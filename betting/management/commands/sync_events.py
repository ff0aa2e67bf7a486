"""Sync fixtures, odds and results from SportsGameOdds now (the beat task does it on a timer)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from betting.feed.sync import events_sync
from core.errors import DependencyDown


class Command(BaseCommand):
    help = "Sync events, odds and results from SportsGameOdds (the local fake when no API key is set)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--league", help="one league id, e.g. NBA; default: every configured league")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = events_sync(league=options["league"])
        except DependencyDown as exc:
            raise CommandError(f"{exc.message} {exc.details or ''}".strip()) from None
        for event_id, reason in report.rejected:
            self.stderr.write(f"rejected {event_id}: {reason}")
        summary = ", ".join(f"{k} {v}" for k, v in report.as_dict().items())
        self.stdout.write(self.style.SUCCESS(f"synced: {summary}"))
