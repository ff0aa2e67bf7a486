"""Cross-cutting behaviour: correlation ids, metrics, configuration safety, service checks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from ledger.services import wallet_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_request_id_is_echoed_or_made(api: Any) -> None:
    given = api.get("/api/health", HTTP_X_REQUEST_ID="req-abc.123")
    assert given["X-Request-ID"] == "req-abc.123"
    made = api.get("/api/health", HTTP_X_REQUEST_ID="bad id with spaces")
    assert made["X-Request-ID"] != "bad id with spaces"
    assert len(made["X-Request-ID"]) == 32


def test_correlation_id_travels_in_task_headers(redis_db: Any) -> None:
    """A task published while a correlation id is bound carries it in its message headers."""
    from celery import shared_task

    from config.celery import app
    from core.logging import bind_correlation_id

    @shared_task(name="tests.noop")
    def noop() -> None:
        return None

    bind_correlation_id("corr-123")
    with app.connection_for_write() as conn:
        noop.apply_async(connection=conn, queue="default")
    raw = redis_db.lpop("default")
    message = json.loads(raw)
    assert message["headers"]["tote_correlation_id"] == "corr-123"


@pytest.mark.django_db
def test_metrics_are_served(api: Any, user: Any, fund: Any) -> None:
    fund(user, 10)
    body = api.get("/metrics").content.decode()
    assert "tote_ledger_transactions_total" in body
    assert 'kind="deposit"' in body


@pytest.mark.django_db
def test_openapi_schema_and_docs(api: Any) -> None:
    schema = api.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/wallets" in schema.content
    assert b"jwtAuth" in schema.content  # the bearer scheme of our JWTAuthentication
    assert api.get("/api/docs/").status_code == 200


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secrets() -> None:
    result = _run("import django; django.setup()", DJANGO_ENV="production", SECRET_KEY="", CRON_SECRET="")
    assert result.returncode != 0
    assert "production mode needs SECRET_KEY, CRON_SECRET" in result.stderr


def test_service_check_names_what_is_down_and_how_to_start_it() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/check_services.py"],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": "postgres://postgres@127.0.0.1:1/tote",
            "REDIS_URL": "redis://127.0.0.1:1/0",
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "PostgreSQL is not reachable at 127.0.0.1:1" in result.stderr
    assert "pg_ctlcluster" in result.stderr
    assert "Redis is not reachable at 127.0.0.1:1" in result.stderr
    assert "redis-server" in result.stderr


@pytest.mark.django_db
def test_reconcile_ledger_command_reports_breaks(user: Any, fund: Any, capsys: Any) -> None:
    fund(user, 500)
    call_command("reconcile_ledger")
    assert "no breaks" in capsys.readouterr().out

    wallet = wallet_for(user_id=user.pk, currency="NGN")
    with connection.cursor() as cursor:  # a stored balance that no posting explains
        cursor.execute("UPDATE ledger_account SET balance = balance + 5 WHERE id = %s", [wallet.pk])
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="does not reconcile"):
        call_command("reconcile_ledger")
    assert "stored balance differs" in capsys.readouterr().out


@pytest.mark.django_db
def test_seed_and_demo_are_idempotent(capsys: Any) -> None:
    from ledger.models import Transaction
    from users.models import User

    call_command("load_demo")
    counts = (User.objects.count(), Transaction.objects.count())
    call_command("load_demo")
    assert (User.objects.count(), Transaction.objects.count()) == counts
    assert User.objects.filter(username="operator", is_superuser=True).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_worker_logs_under_the_publishers_correlation_id(redis_db: Any) -> None:
    from celery import shared_task
    from celery.contrib.testing.worker import start_worker

    from config.celery import app
    from core.logging import bind_correlation_id, current_correlation_id

    @shared_task(name="tests.record_correlation")
    def record_correlation() -> None:
        redis_db.set("seen-correlation", current_correlation_id() or "")

    with start_worker(app, perform_ping_check=False, queues=["default"], loglevel="WARNING"):
        bind_correlation_id("corr-worker-7")
        record_correlation.apply_async(queue="default")
        for _ in range(200):
            if redis_db.get("seen-correlation"):
                break
            time.sleep(0.05)
    assert redis_db.get("seen-correlation") == b"corr-worker-7"
