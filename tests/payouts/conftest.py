"""Fixtures for the payouts: the fake Stripe served on a local port, payees, funded users, runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.stripe import FakeStripe, serving


@pytest.fixture(autouse=True)
def payout_settings(settings: Any) -> Any:
    settings.PAYOUT_CURRENCIES = ["USD"]
    settings.PAYOUT_MIN_THRESHOLD = "25"
    settings.PAYOUT_LIMIT_PER_PAYOUT = "5000"
    settings.PAYOUT_LIMIT_PER_DAY = "10000"
    settings.PAYOUT_LIMIT_PER_MONTH = "50000"
    settings.PAYOUT_APPROVAL_THRESHOLD = "1000"
    settings.PAYOUT_BATCH_SIZE = 10
    settings.PAYOUT_MAX_CONCURRENCY = 1  # inline: the test's own transaction sees every write
    settings.PAYOUT_MAX_RETRIES = 3
    settings.PAYOUT_RETRY_DELAY_S = 30
    settings.PAYOUT_BREAKER_FAILURES = 5
    settings.PAYOUT_BREAKER_COOLDOWN_S = 60
    settings.STRIPE_TIMEOUT_S = 2.0
    settings.STRIPE_SECRET_KEY = "sk_test_tote"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_test_payouts"
    settings.PAYOUT_ALERT_EMAILS = []
    settings.PAYOUT_ALERT_WEBHOOK_URLS = []
    settings.PAYOUT_ALERT_WEBHOOK_SECRET = "alert-signing-secret"
    return settings


@pytest.fixture
def fake_stripe(settings: Any, redis_db: Any) -> Iterator[FakeStripe]:
    """The fake Stripe on its own port; the adapter points at it. Redis (the breaker) starts empty."""
    app = FakeStripe(webhook_secret=settings.STRIPE_WEBHOOK_SECRET)
    with serving(app) as url:
        settings.STRIPE_API_BASE = url
        app.url = url  # type: ignore[attr-defined]
        yield app


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Run Celery tasks in process when they are enqueued (after commit)."""
    from config.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = previous


@pytest.fixture
def payee_for() -> Callable[..., Any]:
    from payments.payouts.services import payee_link

    def make(user: Any, account: str | None = None) -> Any:
        return payee_link(user_id=user.pk, stripe_account_id=account or f"acct_1T{user.pk:06d}")

    return make


@pytest.fixture
def payout_user(make_user: Callable[..., Any], fund: Callable[..., Any], payee_for: Callable[..., Any]) -> Any:
    """A user with USD 1,000.00 and a linked Stripe account."""
    user = make_user(currency="USD")
    fund(user, 100_000, "USD")
    payee_for(user)
    return user


@pytest.fixture
def request_payout() -> Callable[..., Any]:
    from payments.payouts.services import payout_request

    def make(user: Any, amount: int = 5_000, currency: str = "USD") -> Any:
        return payout_request(user_id=user.pk, amount=amount, currency=currency)

    return make


@pytest.fixture
def run() -> Callable[..., Any]:
    """One forced run (what `manage.py run_payouts --force` does)."""
    from payments.payouts.runs import payouts_cron_run

    def go(**options: Any) -> Any:
        return payouts_cron_run(force=True, dry_run=options.pop("dry_run", False), **options)

    return go
