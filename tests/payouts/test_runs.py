"""Batch runs against the fake Stripe: every failure class, retries, the breaker, dry runs."""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from ledger.models import Transaction
from payments.models import Payee, Payout, PayoutAlert, PayoutRun
from payments.payouts.runs import payout_review_check, payouts_retry_due
from payments.payouts.services import payout_review_decide
from tests.payouts.helpers import assert_books_clean, ledger_keys, system_balance, wallet

pytestmark = pytest.mark.django_db

PERMANENT_CODES = [
    "account_closed",
    "account_frozen",
    "bank_account_restricted",
    "bank_ownership_changed",
    "debit_not_authorized",
    "declined",
    "insufficient_funds",
    "invalid_account_number",
    "incorrect_account_holder_name",
    "incorrect_account_holder_address",
    "incorrect_account_holder_tax_id",
    "invalid_currency",
    "no_account",
    "unsupported_card",
]


def _later(seconds: float) -> Any:
    return time_machine.travel(timezone.now() + timedelta(seconds=seconds), tick=False)


def test_a_run_pays_through_stripe_and_settles_the_clearing_account(
    fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any
) -> None:
    payout = request_payout(payout_user, 5_000)

    report = run()

    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert payout.stripe_transfer_id.startswith("tr_")
    assert payout.destination == f"acct_1T{payout_user.pk:06d}"
    (sent,) = fake_stripe.transfer_requests()
    assert sent["idempotency_key"] == f"payout:{payout.pk}"
    assert sent["params"] == {
        "amount": "5000",
        "currency": "usd",
        "destination": payout.destination,
        "transfer_group": f"payout:{payout.pk}",
        "metadata": {"payout_id": str(payout.pk), "user_id": str(payout_user.pk)},
    }
    assert (report.status, report.total_payouts, report.successful_payouts) == ("completed", 1, 1)
    assert report.total_amount == {"USD": 5_000}
    assert ledger_keys(payout) == [f"payout:{payout.pk}:hold", f"payout:{payout.pk}:paid"]
    assert system_balance("payout_clearing") == 0
    assert wallet(payout_user) == 95_000
    row = PayoutRun.objects.get(run_id=report.run_id)
    assert row.correlation_id and row.duration_ms is not None and row.finished_at is not None
    assert_books_clean()


def test_rate_limit_then_success_retries_later_with_the_same_key(
    fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any
) -> None:
    payout = request_payout(payout_user, 5_000)
    fake_stripe.script(f"acct_1T{payout_user.pk:06d}", "rate_limit", "ok")

    report = run()

    payout.refresh_from_db()
    assert (payout.status, payout.attempts, payout.last_error_code) == ("queued", 1, "rate_limit")
    assert payout.next_attempt_at is not None
    assert 29 <= (payout.next_attempt_at - timezone.now()).total_seconds() <= 30
    assert report.retried_payouts == 1 and report.successful_payouts == 0
    assert payouts_retry_due() is None  # not due yet
    with _later(31):
        retry = payouts_retry_due()
    assert retry is not None and retry.successful_payouts == 1
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert [r["idempotency_key"] for r in fake_stripe.transfer_requests()] == [f"payout:{payout.pk}"] * 2
    assert len(fake_stripe.transfers) == 1
    assert_books_clean()


@pytest.mark.parametrize("step", ["server_error", "unavailable", "lock_timeout", "decline:could_not_process"])
def test_transient_failures_then_success(
    fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any, step: str
) -> None:
    payout = request_payout(payout_user, 5_000)
    fake_stripe.script(f"acct_1T{payout_user.pk:06d}", step, step, "ok")

    run()
    with _later(31):
        payouts_retry_due()
    payout.refresh_from_db()
    assert payout.status == Payout.Status.QUEUED and payout.attempts == 2
    assert 59 <= (payout.next_attempt_at - timezone.now()).total_seconds() <= 91  # 30 s, then 60 s
    with _later(31 + 61):
        payouts_retry_due()

    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID and payout.attempts == 3
    assert len(fake_stripe.transfers) == 1
    assert Payee.objects.get(user=payout_user).status == Payee.Status.ACTIVE
    assert_books_clean()


def test_a_connection_error_is_retried(
    settings: Any, fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any
) -> None:
    payout = request_payout(payout_user, 5_000)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        settings.STRIPE_API_BASE = f"http://127.0.0.1:{closed.getsockname()[1]}"  # nothing listens
        run()

    payout.refresh_from_db()
    assert (payout.status, payout.last_error_code) == ("queued", "network_error")
    assert wallet(payout_user) == 95_000  # still held
    settings.STRIPE_API_BASE = fake_stripe.url
    with _later(31):
        payouts_retry_due()
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert_books_clean()


@pytest.mark.parametrize("code", PERMANENT_CODES)
def test_every_permanent_failure_returns_the_hold_and_flags_the_payee(
    fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any, code: str
) -> None:
    payout = request_payout(payout_user, 5_000)
    fake_stripe.script(f"acct_1T{payout_user.pk:06d}", f"decline:{code}")

    report = run()

    payout.refresh_from_db()
    assert (payout.status, payout.failure_code, payout.attempts) == ("failed", code, 1)
    assert wallet(payout_user) == 100_000
    assert ledger_keys(payout) == [f"payout:{payout.pk}:hold", f"payout:{payout.pk}:reverse"]
    payee = Payee.objects.get(user=payout_user)
    assert (payee.status, payee.flag_code) == ("flagged", code)
    assert report.failed_payouts == 1 and report.errors[0]["code"] == code
    assert system_balance("payout_clearing") == 0
    assert_books_clean()


def test_a_flagged_payee_is_not_paid_until_an_operator_clears_the_flag(
    fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any, staff: Any
) -> None:
    from payments.payouts.services import payee_flag_clear

    waiting = request_payout(payout_user, 5_000)
    Payee.objects.filter(user=payout_user).update(status=Payee.Status.FLAGGED, flag_code="account_closed")

    run()
    waiting.refresh_from_db()
    assert waiting.status == Payout.Status.QUEUED and waiting.attempts == 0
    assert fake_stripe.transfer_requests() == []

    payee_flag_clear(payee_id=Payee.objects.get(user=payout_user).pk, operator_id=staff.pk)
    run()
    waiting.refresh_from_db()
    assert waiting.status == Payout.Status.PAID


def test_stripe_should_retry_overrides_the_code(
    fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any, make_user: Callable[..., Any]
) -> None:
    account = f"acct_1T{payout_user.pk:06d}"
    first = request_payout(payout_user, 5_000)
    fake_stripe.script(account, "decline:could_not_process:noretry")
    run()
    first.refresh_from_db()
    assert (first.status, first.failure_code) == ("failed", "could_not_process")
    assert Payee.objects.get(user=payout_user).status == Payee.Status.ACTIVE  # not a destination problem

    second = request_payout(payout_user, 5_000)
    fake_stripe.script(account, "decline:account_closed:retry")
    run()
    second.refresh_from_db()
    assert (second.status, second.last_error_code) == ("queued", "account_closed")


def test_idempotent_replay_after_a_timeout_pays_once(
    settings: Any, fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any
) -> None:
    settings.STRIPE_TIMEOUT_S = 0.3
    payout = request_payout(payout_user, 5_000)
    fake_stripe.script(f"acct_1T{payout_user.pk:06d}", "slow:1200")  # Stripe makes it; we stop waiting

    run()
    payout.refresh_from_db()
    assert (payout.status, payout.last_error_code) == ("queued", "timeout")
    assert len(fake_stripe.transfers) == 1

    with _later(31):
        payouts_retry_due()
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert len(fake_stripe.transfers) == 1
    (transfer_id,) = fake_stripe.transfers
    assert payout.stripe_transfer_id == transfer_id
    assert Transaction.objects.filter(idempotency_key=f"payout:{payout.pk}:paid").count() == 1
    assert_books_clean()


def test_retries_used_up_give_the_money_back_when_stripe_has_no_transfer(
    settings: Any, fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any
) -> None:
    settings.PAYOUT_MAX_RETRIES = 2
    payout = request_payout(payout_user, 5_000)
    fake_stripe.script(f"acct_1T{payout_user.pk:06d}", "server_error", "server_error", "server_error", "ok")

    run()
    for seconds in (31, 31 + 61):
        with _later(seconds):
            payouts_retry_due()

    payout.refresh_from_db()
    assert (payout.status, payout.attempts, payout.failure_code) == ("failed", 3, "api_error")
    assert wallet(payout_user) == 100_000
    assert Payee.objects.get(user=payout_user).status == Payee.Status.ACTIVE
    lookups = [r for r in fake_stripe.requests if r["method"] == "GET"]
    assert lookups[0]["params"]["transfer_group"] == f"payout:{payout.pk}"
    assert_books_clean()


def test_retries_used_up_but_stripe_made_the_transfer_is_paid(
    settings: Any, fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any
) -> None:
    settings.PAYOUT_MAX_RETRIES = 0
    settings.STRIPE_TIMEOUT_S = 0.3
    payout = request_payout(payout_user, 5_000)
    fake_stripe.script(f"acct_1T{payout_user.pk:06d}", "slow:1000")

    run()

    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    assert payout.stripe_transfer_id in fake_stripe.transfers
    assert wallet(payout_user) == 95_000
    assert_books_clean()


def test_an_answer_that_may_have_paid_is_held_for_review(
    fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any, staff: Any
) -> None:
    payout = request_payout(payout_user, 5_000)
    fake_stripe.script(f"acct_1T{payout_user.pk:06d}", "server_error_saved")

    run()
    payout.refresh_from_db()
    assert payout.status == Payout.Status.REVIEW
    assert wallet(payout_user) == 95_000 and system_balance("payout_clearing") == 5_000
    assert PayoutAlert.objects.filter(type="system_error", severity="critical").exists()

    assert payout_review_check(payout_id=payout.pk) is None  # Stripe has no transfer
    payout_review_decide(payout_id=payout.pk, operator_id=staff.pk, paid=False)
    payout.refresh_from_db()
    assert payout.status == Payout.Status.FAILED
    assert wallet(payout_user) == 100_000
    assert_books_clean()


def test_stripe_refusing_our_key_stops_the_run_and_decides_nothing(
    fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any
) -> None:
    first = request_payout(payout_user, 5_000)
    request_payout(payout_user, 5_000)
    fake_stripe.script(f"acct_1T{payout_user.pk:06d}", "unauthorized")

    report = run()

    assert report.status == "stopped"
    assert "STRIPE_SECRET_KEY" in report.stop_reason
    assert set(Payout.objects.values_list("status", "attempts")) == {("queued", 0)}
    assert len(fake_stripe.transfer_requests()) == 1
    assert PayoutAlert.objects.get(dedupe_key="system_error:credentials").severity == "critical"
    assert Payee.objects.get(user=payout_user).status == Payee.Status.ACTIVE
    first.refresh_from_db()
    assert first.failure_code == ""


def test_the_breaker_opens_after_consecutive_failures_then_half_opens(
    settings: Any, fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any
) -> None:
    settings.PAYOUT_BREAKER_FAILURES = 3
    settings.PAYOUT_BATCH_SIZE = 2
    account = f"acct_1T{payout_user.pk:06d}"
    payouts = [request_payout(payout_user, 2_500) for _ in range(6)]
    fake_stripe.script(account, "unavailable", "unavailable", "unavailable")

    report = run()

    assert report.status == "stopped" and report.stop_reason == "circuit breaker open"
    assert len(fake_stripe.transfer_requests()) == 3
    statuses = [Payout.objects.get(pk=p.pk).attempts for p in payouts]
    assert statuses == [1, 1, 1, 0, 0, 0]  # the rest were never sent
    assert PayoutAlert.objects.get(dedupe_key="system_error:breaker").severity == "critical"

    blocked = run()  # still cooling down: nothing is sent
    assert blocked.total_payouts == 0 and len(fake_stripe.transfer_requests()) == 3

    with _later(61):  # half-open: one trial; it succeeds, the breaker closes, the run goes on
        resumed = run()
    assert resumed.status == "completed"
    assert resumed.successful_payouts == 6  # the untried three, and the three retries now due
    assert Payout.objects.filter(status=Payout.Status.PAID).count() == 6
    assert len(fake_stripe.transfers) == 6
    assert len(fake_stripe.transfer_requests()) == 9
    assert_books_clean()


def test_a_failed_half_open_trial_opens_the_breaker_again(
    settings: Any, fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any
) -> None:
    from payments.payouts.breaker import BreakerState, breaker

    settings.PAYOUT_BREAKER_FAILURES = 2
    account = f"acct_1T{payout_user.pk:06d}"
    for _ in range(4):
        request_payout(payout_user, 2_500)
    fake_stripe.script(account, "server_error", "server_error", "server_error")
    run()
    assert breaker.status().state is BreakerState.OPEN
    with _later(61):
        assert breaker.status().state is BreakerState.HALF_OPEN
        trial = run()
        assert trial.total_payouts == 1 and trial.status == "stopped"
        assert breaker.status().state is BreakerState.OPEN
    assert len(fake_stripe.transfer_requests()) == 3


def test_a_run_with_nothing_due_is_recorded(fake_stripe: Any, run: Any) -> None:
    report = run()
    row = PayoutRun.objects.get(run_id=report.run_id)
    assert (row.status, row.total_payouts, row.successful_payouts, row.failed_payouts) == ("completed", 0, 0, 0)
    assert row.total_amount == {} and row.errors == []
    assert fake_stripe.requests == []


def test_a_dry_run_changes_nothing_and_says_what_it_would_pay(
    fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any
) -> None:
    payouts = [request_payout(payout_user, 5_000), request_payout(payout_user, 2_500)]
    before = list(Payout.objects.order_by("pk").values())
    transactions = Transaction.objects.count()

    report = run(dry_run=True)

    assert report.dry_run and report.run_id.startswith("dry_")
    assert report.total_payouts == 2 and report.total_amount == {"USD": 7_500}
    assert [p["payoutId"] for p in report.would_pay] == [p.pk for p in payouts]
    assert list(Payout.objects.order_by("pk").values()) == before
    assert Transaction.objects.count() == transactions
    assert PayoutRun.objects.count() == 0
    assert fake_stripe.requests == []


def test_payouts_below_the_run_threshold_wait(fake_stripe: Any, payout_user: Any, request_payout: Any) -> None:
    from decimal import Decimal

    from payments.payouts.runs import RunOptions, payout_run_execute

    small = request_payout(payout_user, 3_000)
    big = request_payout(payout_user, 10_000)
    payout_run_execute(RunOptions(trigger="schedule", min_threshold=Decimal("50")))
    small.refresh_from_db()
    big.refresh_from_db()
    assert (small.status, big.status) == ("queued", "paid")


def test_a_payout_left_processing_by_a_dead_run_is_paid_once(
    settings: Any, fake_stripe: Any, payout_user: Any, request_payout: Any, run: Any
) -> None:
    from payments.payouts.stripe_adapter import transfer_create

    payout = request_payout(payout_user, 5_000)
    account = f"acct_1T{payout_user.pk:06d}"
    # A run claimed it and reached Stripe, then died before writing the answer.
    Payout.objects.filter(pk=payout.pk).update(status=Payout.Status.PROCESSING, attempts=1, destination=account)
    first = transfer_create(
        payout_id=payout.pk, user_id=payout_user.pk, amount=5_000, currency="USD", destination=account
    )
    assert first.outcome == "paid"

    report = run()

    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID and payout.attempts == 2
    assert payout.stripe_transfer_id == first.transfer_id
    assert len(fake_stripe.transfers) == 1
    assert report.successful_payouts == 1
    assert_books_clean()


def test_a_webhook_that_gets_there_first_leaves_nothing_to_record(
    fake_stripe: Any, payout_user: Any, request_payout: Any
) -> None:
    from payments.payouts.services import PaidTransfer, paid_accounts, payouts_record_paid_bulk
    from payments.payouts.webhooks import stripe_webhook_receive

    first, second = request_payout(payout_user, 5_000), request_payout(payout_user, 2_500)
    Payout.objects.filter(pk__in=[first.pk, second.pk]).update(status=Payout.Status.PROCESSING, attempts=1)
    body, headers, _ = fake_stripe.build_event(
        "payout.paid", {"id": "po_1", "object": "payout", "status": "paid", "metadata": {"payout_id": str(first.pk)}}
    )
    assert stripe_webhook_receive(payload=body, signature=headers["Stripe-Signature"]) == ("marked_paid", False)

    moved = payouts_record_paid_bulk(
        paid=[
            PaidTransfer(first.pk, 5_000, "USD", "tr_first", 50),
            PaidTransfer(second.pk, 2_500, "USD", "tr_second", 50),
        ],
        accounts={"USD": paid_accounts("USD")},
    )

    assert moved == {second.pk}
    assert Transaction.objects.filter(idempotency_key=f"payout:{first.pk}:paid").count() == 1
    assert Payout.objects.get(pk=second.pk).stripe_transfer_id == "tr_second"
    assert system_balance("payout_clearing") == 0
    assert_books_clean()
