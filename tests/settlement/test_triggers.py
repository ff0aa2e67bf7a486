"""The other triggers: the cron endpoint, `settle_bets`, `diagnose_settlement`, `settlement_init`,
the admin's "settle now", the recorded-result hook; and runs: each a row, failed ones retried
after 2, 4 and 8 s, then left FAILED."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from betting.models import BetSlip, Event, Selection
from ledger.models import Transaction
from ledger.reconcile import reconcile
from realtime.models import OutboxEvent
from settlement.models import EventSettlement, SettlementRun
from settlement.services.runs import settlement_run, settlement_run_execute, settlement_runs_reap, sync_and_settle
from tests.settlement.conftest import FINAL, Book, moneyline, slip_of

pytestmark = pytest.mark.django_db

CRON = "/api/cron/settle-bets"


@pytest.fixture
def finished(book: Book) -> tuple[Event, BetSlip]:
    event = book.event(moneyline())
    slip = book.bet(book.player(), book.selection(event, "moneyline", "home"))
    book.result(event, home=2, away=0, at=FINAL)
    return event, slip


@pytest.fixture
def feed_down(settings: Any) -> None:
    """Nothing answers where the feed adapter looks (a closed port), and it gives up at once."""
    settings.SPORTSGAMEODDS_API_KEY = ""
    settings.FAKE_PORT_BASE = 1  # port 2: nothing listens
    settings.SPORTSGAMEODDS_RETRIES = 0
    settings.SPORTSGAMEODDS_TIMEOUT_S = 0.5


# --- cron -----------------------------------------------------------------------------------------


def test_the_cron_endpoint_is_off_while_its_secret_is_unset(api: APIClient, finished: Any, settings: Any) -> None:
    settings.CRON_SECRET = ""
    response = api.post(CRON, HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "cron_off"
    assert not SettlementRun.objects.exists()


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", "Basic cron-secret", "bearer cron-secret", "Bearer cron-secret "]
)
def test_the_cron_endpoint_refuses_a_wrong_secret(
    api: APIClient, finished: Any, settings: Any, header: str | None
) -> None:
    settings.CRON_SECRET = "cron-secret"
    response = api.get(CRON, **({"HTTP_AUTHORIZATION": header} if header is not None else {}))
    assert response.status_code == 401
    assert not SettlementRun.objects.exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_the_cron_endpoint_settles(api: APIClient, finished: Any, settings: Any, method: str) -> None:
    event, slip = finished
    settings.CRON_SECRET = "cron-secret"
    response = getattr(api, method)(f"{CRON}?sync=0", HTTP_AUTHORIZATION="Bearer cron-secret")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["trigger"], body["status"], body["slips_settled"], body["events"]) == ("cron", "succeeded", 1, 1)
    assert body["money"]["NGN"]["payout"] == 19_000
    assert slip_of(slip).status == BetSlip.Status.WON


# --- commands -------------------------------------------------------------------------------------


def test_settle_bets_dry_run_says_what_it_would_do_and_changes_nothing(finished: Any) -> None:
    event, slip = finished
    out = StringIO()
    call_command("settle_bets", "--dry-run", stdout=out)
    text = out.getvalue()
    assert f"event {event.pk}" in text and "would settle 1 (won 1, lost 0, void 0)" in text
    assert "total: 1 event(s), would settle 1 slip(s)" in text and "NGN 190.00" in text
    assert slip_of(slip).status == BetSlip.Status.PENDING
    assert not Transaction.objects.filter(kind="bet.settle").exists()
    assert not OutboxEvent.objects.filter(type__in=["bet.settled", "selection.updated"]).exists()
    assert not EventSettlement.objects.exists() and Selection.objects.filter(result__isnull=False).count() == 0
    run = SettlementRun.objects.get()
    assert (run.dry_run, run.status, run.slips_settled) == (True, "succeeded", 1)


def test_settle_bets_for_one_event(book: Book, finished: Any) -> None:
    event, slip = finished
    other = book.event(moneyline())
    pending = book.bet(book.player(), book.selection(other, "moneyline", "away"))
    book.result(other, home=0, away=1)
    out = StringIO()
    call_command("settle_bets", "--event", str(event.pk), stdout=out)
    assert "settled 1 (won 1, lost 0, void 0)" in out.getvalue()
    assert slip_of(slip).status == BetSlip.Status.WON
    assert slip_of(pending).status == BetSlip.Status.PENDING  # another event: not asked for
    out = StringIO()
    call_command("settle_bets", stdout=out)
    assert f"event {other.pk}" in out.getvalue() and slip_of(pending).status == BetSlip.Status.WON
    out = StringIO()
    call_command("settle_bets", stdout=out)
    assert "no event has settlement due" in out.getvalue()
    assert reconcile().clean


def test_diagnose_settlement_says_why_each_slip_waits(book: Book) -> None:
    event = book.event(moneyline())
    later = book.event(moneyline(), start=FINAL + timedelta(days=1))
    slip = book.bet(book.player(), book.selection(event, "moneyline", "home"))
    parlay = book.bet(
        book.player(), book.selection(event, "moneyline", "away"), book.selection(later, "moneyline", "home")
    )
    book.result(event, home=2, away=0, at=FINAL)
    out = StringIO()
    call_command("diagnose_settlement", "--legs", stdout=out)
    text = out.getvalue()
    assert "2 pending slip(s) on events that are over" in text
    assert f"slip {slip.pk} " in text and "settles at the next run" in text
    assert f"slip {parlay.pk} " in text and f"waiting for event {later.pk}" in text
    assert f"events with settlement due: 1 ({event.pk})" in text
    call_command("settle_bets", stdout=StringIO())
    out = StringIO()
    call_command("diagnose_settlement", stdout=out)
    assert f"slip {parlay.pk} " in out.getvalue() and f"slip {slip.pk} " not in out.getvalue()


def test_settlement_init_writes_the_schedule_and_prints_the_queue(settings: Any) -> None:
    settings.HEALTH_WORKER_PING_TIMEOUT_S = 0.1
    SettlementRun.objects.create(trigger="webhook")
    SettlementRun.objects.create(trigger="beat", status="failed", finished_at=FINAL)
    out = StringIO()
    call_command("settlement_init", stdout=out)
    task = PeriodicTask.objects.get(name="sync-and-settle")
    assert (task.task, task.interval.every, task.interval.period) == (
        "settlement.tasks.sync_and_settle",
        300,
        "seconds",
    )
    text = out.getvalue()
    assert "runs queued 1, retrying 0, active 0" in text
    assert "workers up: 0" in text
    call_command("settlement_init", stdout=StringIO())
    assert PeriodicTask.objects.filter(name="sync-and-settle").count() == 1


# --- admin and the result hook ---------------------------------------------------------------------


def test_the_admin_settles_an_event_now(finished: Any, make_user: Any) -> None:
    event, slip = finished
    operator = make_user(is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(operator)
    response = client.post(
        "/admin/betting/event/", {"action": "settle_now", "_selected_action": [event.pk]}, follow=True
    )
    assert response.status_code == 200
    assert "1 slip(s) settled" in response.content.decode()
    assert slip_of(slip).status == BetSlip.Status.WON
    assert SettlementRun.objects.get().trigger == "admin"


def test_a_recorded_result_queues_a_settlement(book: Book, django_capture_on_commit_callbacks: Any) -> None:
    event = book.event(moneyline())
    with django_capture_on_commit_callbacks(execute=True):
        book.result(event, home=1, away=0, at=FINAL)
    run = SettlementRun.objects.get()
    assert (run.trigger, run.target_event_id, run.status) == ("result", event.pk, "queued")


# --- runs -----------------------------------------------------------------------------------------


def test_a_failed_run_is_retried_after_2_4_and_8_seconds_then_left_failed(
    book: Book, finished: Any, feed_down: None
) -> None:
    event, slip = finished
    run = settlement_run(trigger="beat", sync_feed=True)
    assert (run.status, run.attempts) == ("retrying", 1)
    assert run.errors[0]["stage"] == "feed"
    assert slip_of(slip).status == BetSlip.Status.WON  # known results are settled all the same
    waits = []
    for _ in range(3):
        run.refresh_from_db()
        waits.append(round((run.next_attempt_at - run.finished_at).total_seconds()))
        book.clock.move_to(run.next_attempt_at, tick=False)
        run = settlement_run_execute(run_id=run.pk)
    assert waits == [2, 4, 8]
    run.refresh_from_db()
    assert (run.status, run.attempts, run.next_attempt_at) == ("failed", 4, None)
    assert settlement_run_execute(run_id=run.pk).status == "failed"  # over: not run again


def test_the_beat_runs_retries_that_are_due(book: Book, finished: Any, feed_down: None, settings: Any) -> None:
    run = settlement_run(trigger="cron", sync_feed=True)
    assert run.status == "retrying"
    settings.SPORTSGAMEODDS_RETRIES = 0
    book.clock.move_to(run.next_attempt_at + timedelta(seconds=1), tick=False)
    beat = sync_and_settle()
    run.refresh_from_db()
    assert run.attempts == 2 and beat.trigger == "beat"


def test_a_run_whose_process_died_is_marked_failed(book: Book) -> None:
    run = SettlementRun.objects.create(trigger="command", status="running", started_at=FINAL, heartbeat_at=FINAL)
    book.clock.move_to(FINAL + timedelta(minutes=5), tick=False)
    assert settlement_runs_reap() == 0
    book.clock.move_to(FINAL + timedelta(minutes=11), tick=False)
    assert settlement_runs_reap() == 1
    run.refresh_from_db()
    assert run.status == "failed" and "stopped" in run.errors[0]["error"]
