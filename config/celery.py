"""The Celery application: Redis broker, settings from Django, correlation ids in task headers."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tote")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["betting.rounds"])  # Up/Down round tasks live in a sub-package

# Importing wires the signal handlers that carry correlation ids into and out of tasks.
import core.logging  # noqa: E402,F401
