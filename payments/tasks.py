"""Celery finds an app's tasks in `<app>.tasks`: each rail's task module is imported here."""

from payments.topup.tasks import topup_query_task, topup_sweep_task  # noqa: F401
