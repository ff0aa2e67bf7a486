"""Demo data for `make run`: an operator, players with money, and whatever each app adds.

Idempotent: every step looks for what it would make first, so a second run adds nothing. An
app contributes by having `demo.py` with a `load_demo(stdout)` function.
"""

from __future__ import annotations

import importlib
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from users.models import User


class Command(BaseCommand):
    help = "Load the demo data (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not User.objects.filter(username=settings.DEMO_OPERATOR_USERNAME).exists():
            User.objects.create_superuser(
                username=settings.DEMO_OPERATOR_USERNAME,
                email="operator@example.com",
                password=settings.DEMO_OPERATOR_PASSWORD,
            )
            self.stdout.write(f"created operator {settings.DEMO_OPERATOR_USERNAME}")
        call_command("seed", users=3, stdout=self.stdout)
        for config in apps.get_app_configs():
            try:
                module = importlib.import_module(f"{config.name}.demo")
            except ModuleNotFoundError as exc:
                if exc.name != f"{config.name}.demo":
                    raise
                continue
            module.load_demo(self.stdout)
        self.stdout.write(self.style.SUCCESS("demo data ready"))
