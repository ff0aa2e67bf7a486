"""Races against the real database with real threads: the in-flight limit, one run at a time,
withdrawals competing for the same money."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from core.errors import ApplicationError, Conflict
from payments.models import Payout, PayoutRun
from tests.fakes.stripe import FakeStripe
from tests.payouts.helpers import assert_books_clean, wallet

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _in_threads(count: int, fn: Callable[[int], Any]) -> list[Any]:
    results: list[Any] = [None] * count
    barrier = threading.Barrier(count)

    def work(i: int) -> None:
        try:
            barrier.wait()
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each thread got
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_at_most_the_configured_calls_are_in_flight(
    settings: Any, fake_stripe: FakeStripe, payout_user: Any, request_payout: Any, run: Any
) -> None:
    settings.PAYOUT_MAX_CONCURRENCY = 4
    settings.PAYOUT_BATCH_SIZE = 6
    fake_stripe.latency_ms = 80
    payouts = [request_payout(payout_user, 2_500) for _ in range(14)]

    report = run()

    assert report.successful_payouts == 14
    assert 2 <= fake_stripe.max_in_flight <= 4
    assert len(fake_stripe.transfers) == 14
    assert {p.status for p in Payout.objects.filter(pk__in=[p.pk for p in payouts])} == {Payout.Status.PAID}
    assert PayoutRun.objects.get().concurrency == 4
    assert_books_clean()


def test_two_runs_at_once_pay_each_payout_once(
    settings: Any, fake_stripe: FakeStripe, payout_user: Any, request_payout: Any, run: Any
) -> None:
    settings.PAYOUT_MAX_CONCURRENCY = 2
    fake_stripe.latency_ms = 30
    for _ in range(8):
        request_payout(payout_user, 2_500)

    results = _in_threads(2, lambda _: run())

    conflicts = [r for r in results if isinstance(r, Conflict)]
    reports = [r for r in results if not isinstance(r, Exception)]
    assert len(reports) + len(conflicts) == 2 and reports
    assert sum(r.successful_payouts for r in reports) == 8
    assert len(fake_stripe.transfers) == 8
    assert len(fake_stripe.transfer_requests()) == 8
    assert wallet(payout_user) == 100_000 - 8 * 2_500
    assert_books_clean()


def test_withdrawals_racing_for_the_same_money(payout_user: Any) -> None:
    from payments.payouts.services import payout_request

    results = _in_threads(4, lambda _: payout_request(user_id=payout_user.pk, amount=40_000, currency="USD"))

    made = [r for r in results if isinstance(r, Payout)]
    refused = [r for r in results if isinstance(r, ApplicationError)]
    assert len(made) == 2 and len(refused) == 2
    assert {r.code for r in refused} == {"insufficient_funds"}
    assert wallet(payout_user) == 20_000
    assert_books_clean()


def test_withdrawals_racing_past_the_daily_limit(settings: Any, payout_user: Any, fund: Callable[..., Any]) -> None:
    from payments.payouts.services import payout_request

    settings.PAYOUT_LIMIT_PER_DAY = "100"
    results = _in_threads(4, lambda _: payout_request(user_id=payout_user.pk, amount=4_000, currency="USD"))

    assert sum(isinstance(r, Payout) for r in results) == 2
    assert {r.code for r in results if isinstance(r, ApplicationError)} == {"daily_limit_exceeded"}


def test_the_breaker_stops_a_concurrent_run_and_nothing_is_lost(
    settings: Any, fake_stripe: FakeStripe, payout_user: Any, request_payout: Any, run: Any
) -> None:
    settings.PAYOUT_MAX_CONCURRENCY = 3
    settings.PAYOUT_BATCH_SIZE = 4
    settings.PAYOUT_BREAKER_FAILURES = 3
    fake_stripe.latency_ms = 20
    fake_stripe.script(f"acct_1T{payout_user.pk:06d}", *["unavailable"] * 30)
    for _ in range(12):
        request_payout(payout_user, 2_500)

    report = run()

    assert report.status == "stopped" and report.stop_reason == "circuit breaker open"
    sent = len(fake_stripe.transfer_requests())
    assert 3 <= sent <= 6  # the third failure opens it; calls already in flight finish
    tried = Payout.objects.filter(attempts=1)
    assert tried.count() == sent and set(tried.values_list("status", flat=True)) == {Payout.Status.QUEUED}
    assert Payout.objects.filter(attempts=0, status=Payout.Status.QUEUED).count() == 12 - sent
    assert wallet(payout_user) == 100_000 - 12 * 2_500  # every hold still held
    assert_books_clean()
