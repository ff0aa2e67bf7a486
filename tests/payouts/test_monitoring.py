"""Monitoring: health and metrics, alerts raised / acknowledged / resolved and sent, the staff API
and the operator page."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from payments.models import Payout, PayoutAlert, PayoutRun
from payments.payouts.alerts import alert_config_update, alert_notify, alert_raise
from payments.payouts.monitoring import alerts_evaluate, payout_health
from tests.fakes.stripe import FakeStripe

pytestmark = pytest.mark.django_db

URL = "/api/admin/payout-monitoring"


def _staff_client(staff: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff)
    return client


def _run_with_failures(fake: FakeStripe, user: Any, request_payout: Any, run: Any, *, paid: int, failed: int) -> Any:
    account = f"acct_1T{user.pk:06d}"
    for _ in range(failed):
        request_payout(user, 2_500)
    fake.script(account, *(["decline:account_frozen"] * failed))
    report = run()
    # The payee was flagged by the failures: let an operator clear it before paying the rest.
    from payments.models import Payee

    Payee.objects.filter(user=user).update(status=Payee.Status.ACTIVE)
    for _ in range(paid):
        request_payout(user, 2_500)
    return report, run()


def test_health_is_healthy_with_nothing_wrong(fake_stripe: FakeStripe) -> None:
    status, metrics = payout_health()
    assert status == "healthy"
    assert metrics.pending_count == 0 and metrics.failure_rate == 0.0


def test_a_run_with_many_failures_raises_a_failure_rate_alert(
    fake_stripe: FakeStripe, payout_user: Any, request_payout: Any, run: Any
) -> None:
    failing, _ = _run_with_failures(fake_stripe, payout_user, request_payout, run, paid=3, failed=2)

    alert = PayoutAlert.objects.get(type="failure_rate")
    assert alert.severity == "critical"  # 100% of the first run, over twice the 10% threshold
    assert alert.run.run_id == failing.run_id
    status, metrics = payout_health()
    assert (metrics.successful, metrics.failed, metrics.failure_rate) == (3, 2, 40.0)
    assert metrics.success_rate == 60.0
    assert status == "critical"


def test_a_condition_that_persists_counts_up_one_alert(fake_stripe: FakeStripe) -> None:
    first = alert_raise(type="system_error", severity="warning", message="Stripe slow", dedupe_key="k")
    second = alert_raise(type="system_error", severity="critical", message="Stripe down", dedupe_key="k")
    assert first is not None and second is not None and first.pk == second.pk
    second.refresh_from_db()
    assert (second.occurrences, second.severity, second.message) == (2, "critical", "Stripe down")


def test_pending_count_and_processing_delay_alerts(
    settings: Any, fake_stripe: FakeStripe, payout_user: Any, request_payout: Any
) -> None:
    alert_config_update(fields={"pending_payout_threshold": 2, "processing_delay_threshold_hours": 24})
    with time_machine.travel(timezone.now() - timedelta(hours=30), tick=False):
        for _ in range(3):
            request_payout(payout_user, 2_500)

    raised = {a.type: a for a in alerts_evaluate()}

    assert raised["pending_threshold"].severity == "warning"
    assert raised["pending_threshold"].details["pending"] == 3
    assert raised["processing_delay"].severity == "warning"
    assert raised["processing_delay"].details["averageDelayHours"] >= 30
    assert payout_health()[0] == "warning"


def test_a_large_run_raises_an_amount_alert(
    fake_stripe: FakeStripe, payout_user: Any, request_payout: Any, run: Any
) -> None:
    alert_config_update(fields={"total_amount_threshold": "70"})
    request_payout(payout_user, 5_000)
    request_payout(payout_user, 2_500)
    report = run()
    alert = PayoutAlert.objects.get(type="amount_threshold")
    assert alert.severity == "info"
    assert alert.details == {"run": report.run_id, "currency": "USD", "amount": 7_500, "threshold": 7_000}


def test_acknowledge_then_resolve_through_the_api(
    fake_stripe: FakeStripe, staff: Any, make_user: Callable[..., Any]
) -> None:
    alert = alert_raise(type="system_error", severity="critical", message="Stripe down")
    assert alert is not None
    client = _staff_client(staff)

    ack = client.post(URL, {"action": "acknowledgeAlert", "alertId": alert.pk}, format="json")
    assert ack.status_code == 200 and ack.json()["data"]["alert"]["status"] == "acknowledged"
    assert client.post(URL, {"action": "acknowledgeAlert", "alertId": alert.pk}, format="json").status_code == 409
    resolved = client.post(URL, {"action": "resolveAlert", "alertId": alert.pk}, format="json")
    assert resolved.json()["data"]["alert"]["status"] == "resolved"
    assert client.post(URL, {"action": "resolveAlert", "alertId": 99999}, format="json").status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_by_id == staff.pk and alert.resolved_by_id == staff.pk

    # Resolved, the same condition opens a new alert.
    again = alert_raise(type="system_error", severity="critical", message="Stripe down")
    assert again is not None and again.pk != alert.pk

    player = APIClient()
    player.force_authenticate(make_user())
    assert player.get(URL).status_code == 403
    assert APIClient().get(URL).status_code in (401, 403)


def test_alerts_go_out_by_email_and_signed_webhook(
    settings: Any, fake_stripe: FakeStripe, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hooks/payouts", method="POST").respond_with_json({"ok": True})
    alert_config_update(
        fields={"notification_emails": ["ops@example.com"], "webhook_urls": [httpserver.url_for("/hooks/payouts")]}
    )
    alert = alert_raise(type="system_error", severity="critical", message="Stripe keeps failing")
    assert alert is not None

    assert alert_notify(alert_id=alert.pk) == []

    (email,) = mail.outbox
    assert email.to == ["ops@example.com"] and "CRITICAL" in email.subject
    ((request, _),) = httpserver.log
    body = request.get_data()
    assert json.loads(body)["alert"]["message"] == "Stripe keeps failing"
    ts, v1 = (part.split("=", 1)[1] for part in request.headers["X-Tote-Signature"].split(","))
    expected = hmac.new(b"alert-signing-secret", f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(v1, expected)
    alert.refresh_from_db()
    assert alert.notified_at is not None and alert.notify_errors == []


def test_a_failing_webhook_is_recorded_not_raised(fake_stripe: FakeStripe, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/down", method="POST").respond_with_data("no", status=500)
    alert_config_update(fields={"webhook_urls": [httpserver.url_for("/down")]})
    alert = alert_raise(type="system_error", severity="warning", message="x")
    assert alert is not None
    errors = alert_notify(alert_id=alert.pk)
    assert len(errors) == 1 and "HTTP 500" in errors[0]


def test_monitoring_get_with_history_alerts_and_metrics(
    fake_stripe: FakeStripe, payout_user: Any, request_payout: Any, run: Any, staff: Any
) -> None:
    request_payout(payout_user, 5_000)
    report = run()
    alert_raise(type="system_error", severity="warning", message="something")

    body = _staff_client(staff).get(URL, {"includeHistory": "true", "historyLimit": 5}).json()

    data = body["data"]
    assert body["success"] is True
    assert data["health"]["status"] == "warning"
    assert data["health"]["metrics"]["successful"] == 1
    assert [a["message"] for a in data["health"]["activeAlerts"]] == ["something"]
    assert data["history"][0]["runId"] == report.run_id
    assert data["processing"]["totalCompleted"] == 1 and data["processing"]["totalInQueue"] == 0
    assert data["scheduler"]["isRunning"] is False
    slim = _staff_client(staff).get(URL, {"includeMetrics": "false", "includeAlerts": "false"}).json()["data"]
    assert "metrics" not in slim["health"] and "activeAlerts" not in slim["health"] and "history" not in slim


def test_monitoring_actions(fake_stripe: FakeStripe, payout_user: Any, request_payout: Any, staff: Any) -> None:
    client = _staff_client(staff)
    schedule = client.post(
        URL,
        {
            "action": "updateSchedule",
            "config": {
                "frequency": "weekly",
                "dayOfWeek": 1,
                "hour": 10,
                "minute": 0,
                "timezone": "Europe/London",
                "notificationEmails": ["ops@example.com"],
            },
        },
        format="json",
    )
    assert schedule.status_code == 200, schedule.json()
    saved = schedule.json()["data"]["schedule"]
    assert (saved["frequency"], saved["dayOfWeek"], saved["timezone"]) == ("weekly", 1, "Europe/London")
    assert PeriodicTask.objects.get(name=f"payout-schedule-{saved['id']}").crontab.day_of_week == "1"
    bad = client.post(URL, {"action": "updateSchedule", "config": {"timezone": "Nowhere/Land"}}, format="json")
    assert bad.status_code == 400

    config = client.post(
        URL,
        {
            "action": "updateAlertConfig",
            "config": {"failureRateThreshold": "5", "webhookUrls": ["https://ops.example.com/h"]},
        },
        format="json",
    )
    assert config.json()["data"]["alertConfig"]["failureRateThreshold"] == "5.00"

    request_payout(payout_user, 5_000)
    metrics = client.post(URL, {"action": "getMetrics"}, format="json").json()["data"]
    assert metrics["metrics"]["pendingCount"] == 1

    no_key = client.post(URL, {"action": "triggerPayouts"}, format="json")
    assert no_key.status_code == 400  # moves money: needs an Idempotency-Key
    triggered = client.post(URL, {"action": "triggerPayouts"}, format="json", HTTP_IDEMPOTENCY_KEY="t1")
    assert triggered.status_code == 200 and triggered.json()["data"]["successfulPayouts"] == 1
    replay = client.post(URL, {"action": "triggerPayouts"}, format="json", HTTP_IDEMPOTENCY_KEY="t1")
    assert replay["Idempotent-Replayed"] == "true"
    assert PayoutRun.objects.get().triggered_by_id == staff.pk
    assert Payout.objects.get().status == Payout.Status.PAID


def test_the_operator_page(
    fake_stripe: FakeStripe, payout_user: Any, request_payout: Any, run: Any, client: Any
) -> None:
    from users.models import User

    operator = User.objects.create_superuser(username="ops", email="ops@example.com", password="pw-for-ops-123")
    client.force_login(operator)
    request_payout(payout_user, 5_000)
    run()
    alert = alert_raise(type="system_error", severity="critical", message="Breaker opened")
    assert alert is not None

    page = client.get("/admin/payments/payoutrun/monitoring/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="payout-health">critical<' in html
    assert 'id="payout-runs-chart"' in html and "1 paid, 0 failed" in html
    assert "Breaker opened" in html and 'value="acknowledge"' in html

    done = client.post("/admin/payments/payoutrun/monitoring/", {"action": "acknowledge", "alert": alert.pk})
    assert done.status_code == 302
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    client.post("/admin/payments/payoutrun/monitoring/", {"action": "resolve", "alert": alert.pk})
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert client.get("/admin/payments/payoutrun/").status_code == 200
    for model in ("payout", "payee", "payoutalert", "payoutschedule", "stripeevent", "payoutalertconfig"):
        assert client.get(f"/admin/payments/{model}/").status_code == 200, model


def test_an_operator_fixes_a_destination_then_clears_the_flag(payout_user: Any, client: Any) -> None:
    from payments.models import Payee
    from users.models import User

    operator = User.objects.create_superuser(username="ops2", email="ops2@example.com", password="pw-for-ops-123")
    client.force_login(operator)
    payee = Payee.objects.get(user=payout_user)
    Payee.objects.filter(pk=payee.pk).update(status=Payee.Status.FLAGGED, flag_code="account_closed")
    url = f"/admin/payments/payee/{payee.pk}/change/"

    refused = client.post(url, {"stripe_account_id": "not-an-account"})
    assert refused.status_code == 200 and "looks like acct_" in refused.content.decode()
    assert client.post(url, {"stripe_account_id": "acct_1Fixed"}).status_code == 302
    payee.refresh_from_db()
    assert (payee.stripe_account_id, payee.status) == ("acct_1Fixed", "flagged")  # the flag is a separate step

    client.post("/admin/payments/payee/", {"action": "clear_flag", "_selected_action": [payee.pk]})
    payee.refresh_from_db()
    assert payee.status == "active" and payee.flag_code == ""


def test_the_admin_edits_the_alert_configuration(client: Any) -> None:
    from payments.models import PayoutAlertConfig
    from payments.payouts.alerts import alert_config
    from users.models import User

    client.force_login(User.objects.create_superuser(username="ops3", email="ops3@example.com", password="pw-ops-123"))
    config = alert_config()
    form = {
        "enabled": "on",
        "failure_rate_threshold": "7.5",
        "pending_payout_threshold": "80",
        "processing_delay_threshold_hours": "12",
        "total_amount_threshold": "5000",
        "notification_emails": '["ops@example.com"]',
        "webhook_urls": "[]",
    }
    response = client.post(f"/admin/payments/payoutalertconfig/{config.pk}/change/", form)
    assert response.status_code == 302
    config = PayoutAlertConfig.objects.get()
    assert (str(config.failure_rate_threshold), config.pending_payout_threshold) == ("7.50", 80)
    assert config.notification_emails == ["ops@example.com"]
