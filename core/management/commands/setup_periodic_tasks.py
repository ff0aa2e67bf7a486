"""Write every app's declared periodic tasks to django-celery-beat (idempotent)."""

from __future__ import annotations

import importlib
import json
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask, PeriodicTasks

from core.schedule import Periodic


def declared_tasks() -> list[Periodic]:
    tasks: list[Periodic] = []
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.schedule")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedule":
                raise
            continue
        tasks.extend(getattr(module, "PERIODIC_TASKS", []))
    return tasks


@transaction.atomic
def write_schedule(tasks: list[Periodic], *, reset_intervals: bool = False) -> list[str]:
    """Create missing periodic tasks; existing ones keep an operator's interval unless reset."""
    written = []
    for spec in tasks:
        defaults: dict[str, Any] = {
            "task": spec.task,
            "kwargs": json.dumps(spec.kwargs),
            "queue": spec.queue,
            "description": spec.description,
            "enabled": True,
        }
        if spec.every_s is not None:
            interval, _ = IntervalSchedule.objects.get_or_create(every=spec.every_s, period=IntervalSchedule.SECONDS)
            defaults |= {"interval": interval, "crontab": None}
        elif spec.crontab is not None:
            crontab, _ = CrontabSchedule.objects.get_or_create(**spec.crontab)
            defaults |= {"crontab": crontab, "interval": None}
        task, created = PeriodicTask.objects.get_or_create(name=spec.name, defaults=defaults)
        if not created:
            changed = {k: v for k, v in defaults.items() if k in ("task", "kwargs", "queue", "description")}
            if reset_intervals:
                changed |= {k: defaults[k] for k in ("interval", "crontab")}
            PeriodicTask.objects.filter(pk=task.pk).update(**changed)
        written.append(f"{'created' if created else 'kept'} {spec.name} -> {spec.task}")
    PeriodicTasks.update_changed()  # queryset updates send no signal: tell beat to reload
    return written


class Command(BaseCommand):
    help = "Write the periodic tasks declared in code to django-celery-beat."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--reset-intervals", action="store_true", help="Overwrite intervals an operator changed in the admin."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for line in write_schedule(declared_tasks(), reset_intervals=options["reset_intervals"]):
            self.stdout.write(line)
        self.stdout.write(self.style.SUCCESS("periodic tasks written"))
