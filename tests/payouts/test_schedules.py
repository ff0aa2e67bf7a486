"""Schedules: occurrences across daylight-saving changes and month ends, beat entries written at
once, one run per occurrence; the cron endpoint and the command."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from payments.models import Payout, PayoutRun, PayoutSchedule
from payments.payouts.runs import payout_schedule_tick
from payments.payouts.schedules import (
    due_slot,
    latest_occurrence,
    next_occurrence,
    occurrence_on,
    payout_schedule_delete,
    payout_schedule_store,
    payout_schedule_update,
)

pytestmark = pytest.mark.django_db


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _schedule(**fields: Any) -> PayoutSchedule:
    values: dict[str, Any] = {"name": "test", "frequency": "daily", "hour": 9, "minute": 0, "timezone": "UTC"}
    return PayoutSchedule(**(values | fields))


def test_daily_across_the_spring_forward_gap() -> None:
    ny = _schedule(timezone="America/New_York", hour=2, minute=30)
    # 2026-03-08: clocks go 02:00 EST -> 03:00 EDT; 02:30 does not exist and runs at 03:30 EDT.
    assert occurrence_on(ny, date(2026, 3, 7)) == _utc("2026-03-07 07:30")  # 02:30 EST
    assert occurrence_on(ny, date(2026, 3, 8)) == _utc("2026-03-08 07:30")  # 03:30 EDT
    assert occurrence_on(ny, date(2026, 3, 9)) == _utc("2026-03-09 06:30")  # 02:30 EDT
    assert next_occurrence(ny, _utc("2026-03-08 06:00")) == _utc("2026-03-08 07:30")


def test_daily_across_the_fall_back_repeat_runs_once() -> None:
    ny = _schedule(timezone="America/New_York", hour=1, minute=30)
    # 2026-11-01: 01:30 happens twice (EDT, then EST); the run is at the first.
    first = occurrence_on(ny, date(2026, 11, 1))
    assert first == _utc("2026-11-01 05:30")
    assert next_occurrence(ny, first) == _utc("2026-11-02 06:30")
    ny.last_slot_at = first
    assert due_slot(ny, _utc("2026-11-01 06:30")) is None  # the second 01:30 is not a new occurrence


def test_weekly_keeps_local_time_across_the_change() -> None:
    london = _schedule(timezone="Europe/London", frequency="weekly", day_of_week=1, hour=10)  # Mondays
    assert next_occurrence(london, _utc("2026-03-24 00:00")) == _utc("2026-03-30 09:00")  # BST: 10:00 = 09:00Z
    assert next_occurrence(london, _utc("2026-03-20 00:00")) == _utc("2026-03-23 10:00")  # GMT
    assert latest_occurrence(london, _utc("2026-03-29 12:00")) == _utc("2026-03-23 10:00")


@pytest.mark.parametrize(
    ("day", "month_start", "expected"),
    [
        (31, "2026-04-01", "2026-04-30 09:00"),  # a 30-day month: its last day
        (31, "2026-02-01", "2026-02-28 09:00"),
        (30, "2028-02-01", "2028-02-29 09:00"),  # leap year
        (31, "2026-05-01", "2026-05-31 09:00"),
        (15, "2026-04-01", "2026-04-15 09:00"),
    ],
)
def test_monthly_past_the_month_end_runs_on_its_last_day(day: int, month_start: str, expected: str) -> None:
    monthly = _schedule(frequency="monthly", day_of_month=day)
    assert next_occurrence(monthly, _utc(f"{month_start} 00:00")) == _utc(expected)


def test_monthly_in_a_zone_ahead_of_utc() -> None:
    tokyo = _schedule(frequency="monthly", day_of_month=31, hour=0, minute=30, timezone="Asia/Tokyo")
    # April 30th 00:30 in Tokyo is April 29th 15:30 UTC.
    assert next_occurrence(tokyo, _utc("2026-04-01 00:00")) == _utc("2026-04-29 15:30")


def test_saving_writes_the_beat_entry_at_once() -> None:
    schedule = payout_schedule_store(
        schedule=_schedule(frequency="monthly", day_of_month=31, hour=9, minute=15, timezone="Europe/Berlin")
    )

    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert task.task == "payments.tasks.payout_schedule_tick"
    assert json.loads(task.kwargs) == {"schedule_id": schedule.pk}
    assert task.enabled and task.queue == "payments"
    cron = task.crontab
    assert (cron.minute, cron.hour, cron.day_of_month, cron.day_of_week) == ("15", "9,10", "28-31", "*")
    assert str(cron.timezone) == "Europe/Berlin"

    payout_schedule_update(
        schedule_id=schedule.pk, fields={"frequency": "weekly", "day_of_week": 5, "hour": 23, "enabled": False}
    )
    task.refresh_from_db()
    assert not task.enabled
    assert (task.crontab.hour, task.crontab.day_of_week, task.crontab.day_of_month) == ("23", "5", "*")

    payout_schedule_delete(schedule_id=schedule.pk)
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()


def test_an_invalid_schedule_is_refused_and_nothing_is_written() -> None:
    from core.errors import ValidationFailed

    for fields in ({"frequency": "weekly"}, {"frequency": "monthly", "day_of_month": 32}, {"timezone": "Mars/Base"}):
        with pytest.raises(ValidationFailed):
            payout_schedule_store(schedule=_schedule(**fields))
    assert PayoutSchedule.objects.count() == 0 and PeriodicTask.objects.count() == 0


def test_a_tick_runs_each_occurrence_once(fake_stripe: Any, payout_user: Any, request_payout: Any) -> None:
    schedule = payout_schedule_store(
        schedule=_schedule(
            timezone="America/New_York",
            hour=2,
            minute=30,
            min_threshold=Decimal("10"),
            notification_emails=["payouts-team@example.com"],
        )
    )
    with time_machine.travel("2026-03-08 07:29Z", tick=False):
        payout = request_payout(payout_user, 5_000)
        assert payout_schedule_tick(schedule_id=schedule.pk) is None  # not yet
    with time_machine.travel("2026-03-08 07:31Z", tick=False):  # 03:31 EDT: the gap day's run
        report = payout_schedule_tick(schedule_id=schedule.pk)
        assert report is not None and report.successful_payouts == 1
        assert payout_schedule_tick(schedule_id=schedule.pk) is None  # a repeated firing
    with time_machine.travel("2026-03-08 08:30Z", tick=False):  # beat's second hour: nothing new
        assert payout_schedule_tick(schedule_id=schedule.pk) is None
    schedule.refresh_from_db()
    assert schedule.last_slot_at == _utc("2026-03-08 07:30")
    run = PayoutRun.objects.get()
    assert (run.trigger, run.schedule_id) == ("schedule", schedule.pk)
    assert run.next_scheduled_at == _utc("2026-03-09 06:30")
    assert Payout.objects.get(pk=payout.pk).status == Payout.Status.PAID
    (summary,) = mail.outbox
    assert summary.to == ["payouts-team@example.com"] and "1/1 paid" in summary.subject


def test_a_missed_occurrence_past_the_grace_period_is_skipped(settings: Any) -> None:
    settings.PAYOUT_SCHEDULE_GRACE_MIN = 60
    schedule = payout_schedule_store(schedule=_schedule(hour=9))
    assert due_slot(schedule, _utc("2026-06-01 09:59")) == _utc("2026-06-01 09:00")
    assert due_slot(schedule, _utc("2026-06-01 10:01")) is None


# --- Cron endpoint and command ----------------------------------------------------------------

CRON = "/api/cron/automated-payouts"
SECRET = "s3cret-cron"


def _cron(body: dict[str, Any], token: str | None = SECRET) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return APIClient().post(CRON, body, format="json", **headers)


def test_cron_is_off_while_the_secret_is_unset(settings: Any) -> None:
    settings.CRON_SECRET = ""
    response = _cron({"forceRun": True})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "cron_disabled"


def test_cron_needs_the_bearer_secret(settings: Any) -> None:
    settings.CRON_SECRET = "s3cret-cron"
    assert _cron({}, token=None).status_code == 401
    assert _cron({}, token="s3cret-cro").status_code == 401
    assert _cron({}, token="s3cret-cron-and-more").status_code == 401
    assert PayoutRun.objects.count() == 0


def test_cron_without_force_runs_only_when_a_schedule_is_due(
    settings: Any, fake_stripe: Any, payout_user: Any, request_payout: Any
) -> None:
    settings.CRON_SECRET = "s3cret-cron"
    payout_schedule_store(schedule=_schedule(hour=9))
    with time_machine.travel("2026-06-01 08:00Z", tick=False):
        request_payout(payout_user, 5_000)
        skipped = _cron({"forceRun": False})
        assert skipped.status_code == 200
        assert skipped.json()["status"] == "skipped"
        assert skipped.json()["data"]["nextScheduledTime"] == "2026-06-01T09:00:00+00:00"
    with time_machine.travel("2026-06-01 09:05Z", tick=False):
        ran = _cron({"forceRun": False, "batchSize": 5}).json()
        again = _cron({"forceRun": False}).json()
    assert ran["success"] is True and ran["status"] == "success"
    assert ran["data"]["successfulPayouts"] == 1
    assert ran["data"]["totalAmount"] == [{"amount": 5_000, "currency": "USD", "display": "USD 50.00"}]
    assert ran["data"]["runId"].startswith("cron_run_") and ran["correlationId"]
    assert again["status"] == "skipped"
    assert PayoutRun.objects.get().batch_size == 5


def test_cron_dry_run_and_forced_run(settings: Any, fake_stripe: Any, payout_user: Any, request_payout: Any) -> None:
    settings.CRON_SECRET = "s3cret-cron"
    request_payout(payout_user, 5_000)
    dry = _cron({"forceRun": True, "dryRun": True}).json()
    assert dry["status"] == "dry_run" and dry["data"]["totalPayouts"] == 1 and dry["data"]["dryRun"] is True
    assert Payout.objects.get().status == Payout.Status.QUEUED and PayoutRun.objects.count() == 0
    forced = _cron({"forceRun": True, "maxRetries": 0}).json()
    assert forced["data"]["successfulPayouts"] == 1
    assert _cron({"batchSize": 0}).status_code == 400


def test_the_command(fake_stripe: Any, payout_user: Any, request_payout: Any) -> None:
    request_payout(payout_user, 5_000)
    out = StringIO()
    call_command("run_payouts", stdout=out)
    assert "No scheduled payout run is due" in out.getvalue()
    out = StringIO()
    call_command("run_payouts", "--dry-run", "--force", stdout=out)
    assert json.loads(out.getvalue())["totalPayouts"] == 1
    assert Payout.objects.get().status == Payout.Status.QUEUED
    out = StringIO()
    call_command("run_payouts", "--force", stdout=out)
    assert json.loads(out.getvalue())["successfulPayouts"] == 1
    assert PayoutRun.objects.get().trigger == "command"


def test_the_command_reports_a_run_in_progress(fake_stripe: Any) -> None:
    import threading

    from django.db import connection

    from payments.payouts.runs import run_lock

    held, release = threading.Event(), threading.Event()

    def other_process() -> None:  # another session holds the run lock
        try:
            with run_lock():
                held.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_process)
    thread.start()
    try:
        assert held.wait(10)
        with pytest.raises(CommandError, match="already in progress"):
            call_command("run_payouts", "--force", stdout=StringIO())
    finally:
        release.set()
        thread.join()


def test_the_admin_writes_the_beat_entry_when_a_schedule_is_saved_or_deleted(client: Any) -> None:
    from users.models import User

    client.force_login(User.objects.create_superuser(username="ops", email="ops@example.com", password="pw-ops-123"))
    form = {
        "name": "weekly",
        "enabled": "on",
        "frequency": "weekly",
        "day_of_week": "",
        "day_of_month": "",
        "hour": "10",
        "minute": "30",
        "timezone": "Europe/London",
        "min_threshold": "25",
        "batch_size": "10",
        "max_retries": "3",
        "notification_emails": "[]",
    }
    refused = client.post("/admin/payments/payoutschedule/add/", form)
    assert refused.status_code == 200 and PayoutSchedule.objects.count() == 0  # weekly needs a day

    assert client.post("/admin/payments/payoutschedule/add/", form | {"day_of_week": "3"}).status_code == 302
    schedule = PayoutSchedule.objects.get()
    task = PeriodicTask.objects.get(pk=schedule.periodic_task_id)
    assert (task.crontab.day_of_week, task.crontab.hour, task.crontab.minute) == ("3", "10,11", "30")

    assert client.post(f"/admin/payments/payoutschedule/{schedule.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not PeriodicTask.objects.filter(pk=task.pk).exists()
