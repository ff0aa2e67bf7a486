"""Payout schedules: when runs happen, and their django-celery-beat entries.

A schedule says "daily / weekly on day D / monthly on day D, at HH:MM in time zone Z". Its
occurrences are computed here, in the schedule's zone:
- monthly on a day the month does not have (the 31st in April, the 30th in February) runs on
  the month's last day;
- a wall-clock time that does not exist (the spring-forward gap) runs when the gap ends, as
  the same instant in the old offset (02:30 America/New_York on 2026-03-08 is 03:30 EDT);
- a time that happens twice (fall back) runs once, at its first occurrence.

Beat fires `payments.tasks.payout_schedule_tick` on a CrontabSchedule in the schedule's zone that
covers every occurrence (the monthly days 28-31, and the hour after the set hour for the gap);
the tick runs only when an occurrence is due and has not run yet (`last_slot_at`,
compare-and-set), so an extra or repeated beat firing never makes a second run.
"""

from __future__ import annotations

import calendar
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from core.errors import ValidationFailed
from payments.models import PayoutSchedule

TICK_TASK = "payments.tasks.payout_schedule_tick"
F = PayoutSchedule.Frequency


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"Unknown time zone {name!r}.", code="invalid_timezone") from None


def runs_on(schedule: PayoutSchedule, day: date) -> bool:
    if schedule.frequency == F.WEEKLY:
        return (day.weekday() + 1) % 7 == schedule.day_of_week  # ours: 0 = Sunday
    if schedule.frequency == F.MONTHLY:
        last = calendar.monthrange(day.year, day.month)[1]
        return day.day == min(int(schedule.day_of_month or 1), last)
    return True


def occurrence_on(schedule: PayoutSchedule, day: date) -> datetime | None:
    """The UTC instant of the run on a local date, or None when the schedule skips that date."""
    if not runs_on(schedule, day):
        return None
    # fold=0: the first of a repeated time; a missing time resolves in the old offset (after the gap).
    local = datetime.combine(day, time(schedule.hour, schedule.minute), tzinfo=_zone(schedule.timezone))
    return local.astimezone(UTC)


def latest_occurrence(schedule: PayoutSchedule, now: datetime) -> datetime | None:
    today = now.astimezone(_zone(schedule.timezone)).date()
    for back in range(0, 33):
        slot = occurrence_on(schedule, today - timedelta(days=back))
        if slot is not None and slot <= now:
            return slot
    return None


def next_occurrence(schedule: PayoutSchedule, now: datetime) -> datetime | None:
    today = now.astimezone(_zone(schedule.timezone)).date()
    for ahead in range(-1, 64):
        slot = occurrence_on(schedule, today + timedelta(days=ahead))
        if slot is not None and slot > now:
            return slot
    return None


def due_slot(schedule: PayoutSchedule, now: datetime) -> datetime | None:
    """The occurrence that should run now: passed, not run yet, and not older than the grace period."""
    if not schedule.enabled:
        return None
    slot = latest_occurrence(schedule, now)
    if slot is None or now - slot > timedelta(minutes=settings.PAYOUT_SCHEDULE_GRACE_MIN):
        return None
    if schedule.last_slot_at is not None and schedule.last_slot_at >= slot:
        return None
    return slot


def next_scheduled_time(now: datetime | None = None) -> datetime | None:
    now = now or timezone.now()
    times = [t for s in PayoutSchedule.objects.filter(enabled=True) if (t := next_occurrence(s, now)) is not None]
    return min(times, default=None)


def due_schedules(now: datetime | None = None) -> list[tuple[PayoutSchedule, datetime]]:
    now = now or timezone.now()
    due = [(s, slot) for s in PayoutSchedule.objects.filter(enabled=True) if (slot := due_slot(s, now)) is not None]
    return sorted(due, key=lambda pair: pair[1])


def slot_claim(*, schedule_id: int, slot: datetime) -> bool:
    """Mark an occurrence as run; False when it already ran (another trigger got there first)."""
    from django.db.models import Q

    return bool(
        PayoutSchedule.objects.filter(pk=schedule_id)
        .filter(Q(last_slot_at__isnull=True) | Q(last_slot_at__lt=slot))
        .update(last_slot_at=slot)
    )


# --- Editing ----------------------------------------------------------------------------------


def schedule_validate(schedule: PayoutSchedule) -> None:
    errors: dict[str, str] = {}
    if schedule.frequency not in F.values:
        errors["frequency"] = "daily, weekly or monthly"
    if schedule.frequency == F.WEEKLY and (schedule.day_of_week is None or not 0 <= schedule.day_of_week <= 6):
        errors["day_of_week"] = "0 (Sunday) to 6 (Saturday) for a weekly schedule"
    if schedule.frequency == F.MONTHLY and (schedule.day_of_month is None or not 1 <= schedule.day_of_month <= 31):
        errors["day_of_month"] = "1 to 31 for a monthly schedule"
    if not 0 <= schedule.hour <= 23:
        errors["hour"] = "0 to 23"
    if not 0 <= schedule.minute <= 59:
        errors["minute"] = "0 to 59"
    try:
        _zone(schedule.timezone)
    except ValidationFailed:
        errors["timezone"] = "an IANA time zone, e.g. Europe/London"
    if not 1 <= schedule.batch_size <= 1000:
        errors["batch_size"] = "1 to 1000"
    if not 0 <= schedule.max_retries <= 10:
        errors["max_retries"] = "0 to 10"
    if Decimal(schedule.min_threshold) < 0:
        errors["min_threshold"] = "zero or more"
    emails = schedule.notification_emails
    if not isinstance(emails, list):
        errors["notification_emails"] = "a list of e-mail addresses"
    else:
        for email in emails:
            try:
                validate_email(email)
            except DjangoValidationError:
                errors["notification_emails"] = f"{email!r} is not an e-mail address"
    if errors:
        raise ValidationFailed("The schedule is not valid.", details={"fields": errors})


def _crontab_fields(schedule: PayoutSchedule) -> dict[str, str]:
    hour = f"{schedule.hour},{schedule.hour + 1}" if schedule.hour < 23 else "23"
    day_of_week, day_of_month = "*", "*"
    if schedule.frequency == F.WEEKLY:
        day_of_week = str(schedule.day_of_week)
    elif schedule.frequency == F.MONTHLY:
        day = int(schedule.day_of_month or 1)
        day_of_month = str(day) if day <= 28 else "28-31"
    return {
        "minute": str(schedule.minute),
        "hour": hour,
        "day_of_week": day_of_week,
        "day_of_month": day_of_month,
        "month_of_year": "*",
    }


def _write_beat(schedule: PayoutSchedule) -> None:
    crontab, _ = CrontabSchedule.objects.get_or_create(
        **_crontab_fields(schedule), timezone=ZoneInfo(schedule.timezone)
    )
    defaults = {
        "task": TICK_TASK,
        "crontab": crontab,
        "interval": None,
        "kwargs": json.dumps({"schedule_id": schedule.pk}),
        "enabled": schedule.enabled,
        "queue": "payments",
        "description": f"Payout schedule {schedule.name!r}: {schedule.frequency} at "
        f"{schedule.hour:02d}:{schedule.minute:02d} {schedule.timezone}",
    }
    if schedule.periodic_task_id:
        PeriodicTask.objects.filter(pk=schedule.periodic_task_id).update(**defaults)
    else:
        task, _ = PeriodicTask.objects.update_or_create(name=f"payout-schedule-{schedule.pk}", defaults=defaults)
        PayoutSchedule.objects.filter(pk=schedule.pk).update(periodic_task=task)
        schedule.periodic_task = task
    PeriodicTasks.update_changed()  # queryset updates send no signal: tell beat to reload


def payout_schedule_store(*, schedule: PayoutSchedule) -> PayoutSchedule:
    """Validate and save a schedule, and write its beat entry in the same transaction."""
    schedule_validate(schedule)
    schedule.updated_at = timezone.now()
    with transaction.atomic():
        schedule.save()
        _write_beat(schedule)
    return schedule


def payout_schedule_update(*, schedule_id: int | None, fields: dict[str, object]) -> PayoutSchedule:
    """Change a schedule's fields (or create the default one when there is none)."""
    if schedule_id is not None:
        schedule = PayoutSchedule.objects.filter(pk=schedule_id).first()
        if schedule is None:
            from core.errors import NotFound

            raise NotFound("No such schedule.")
    else:
        schedule = PayoutSchedule.objects.order_by("pk").first() or PayoutSchedule(name="default")
    for name, value in fields.items():
        setattr(schedule, name, value)
    return payout_schedule_store(schedule=schedule)


def payout_schedule_delete(*, schedule_id: int) -> None:
    with transaction.atomic():
        schedule = PayoutSchedule.objects.select_for_update().filter(pk=schedule_id).first()
        if schedule is None:
            return
        task_id = schedule.periodic_task_id
        schedule.delete()
        if task_id:
            PeriodicTask.objects.filter(pk=task_id).delete()
            PeriodicTasks.update_changed()
