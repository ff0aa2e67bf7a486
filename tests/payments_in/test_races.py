"""Races with real threads against the real database: money moves once, payments are sent once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from payments.models import BankTransaction, TopUp, VirtualAccount
from payments.topup.services import topup_create, topup_query, topup_send
from payments.treasury.services import virtual_account_create
from realtime.models import OutboxEvent
from tests.payments_in.conftest import books_balance, signed_deposit, wallet

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def race(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run `work(i)` in n threads released together; returns results (or the exceptions)."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - reported to the test, which asserts on it
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_twenty_concurrent_deliveries_of_one_deposit_credit_it_once(ng_user: Any, wema: Any) -> None:
    account, _ = virtual_account_create(
        user_id=ng_user.pk,
        bvn="22222222222",
        first_name="Ada",
        last_name="Obi",
        phone="+2348012345678",
        email="ada@example.com",
    )
    raw, signature = signed_deposit(account_number=account.account_number, amount="7500.25", reference="WEMA-RACE")

    def deliver(_: int) -> Any:
        response = Client().post(
            "/api/treasury/webhook", raw, content_type="application/json", HTTP_X_WEMA_SIGNATURE=signature
        )
        return response.status_code, response.json()

    results = race(20, deliver)

    assert all(not isinstance(r, Exception) for r in results), results
    assert {status for status, _ in results} == {200}
    descriptions = [body["status_desc"] for _, body in results]
    assert descriptions.count("credited") == 1
    assert len({body["ref"] for _, body in results}) == 1
    assert BankTransaction.objects.count() == 1
    assert wallet(ng_user) == 10_000_000 + 750_025
    assert OutboxEvent.objects.filter(type="balance.updated", user_id=ng_user.pk, data__amount=750_025).count() == 1
    books_balance()


def test_concurrent_sends_of_one_top_up_send_it_once(ng_user: Any, selcom: Any) -> None:
    topup = topup_create(
        user_id=ng_user.pk, phone="+2348031230000", carrier="mtn", kind="airtime", amount=100_000, client_key="race"
    )

    results = race(8, lambda _: topup_send(topup_id=topup.pk).status)

    assert all(not isinstance(r, Exception) for r in results), results
    assert TopUp.objects.get(pk=topup.pk).status == "succeeded"
    assert selcom.get("/_fake/transactions")[topup.transid]["process_calls"] == 1
    books_balance()


def test_concurrent_due_queries_ask_the_provider_once(ng_user: Any, selcom: Any) -> None:
    topup = topup_create(
        user_id=ng_user.pk, phone="+2348031230005", carrier="mtn", kind="airtime", amount=100_000, client_key="q"
    )
    assert topup_send(topup_id=topup.pk).status == "processing"
    TopUp.objects.filter(pk=topup.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    results = race(8, lambda _: topup_query(topup_id=topup.pk).queries)

    assert all(not isinstance(r, Exception) for r in results), results
    assert TopUp.objects.get(pk=topup.pk).queries == 1
    assert selcom.get("/_fake/transactions")[topup.transid]["query_calls"] == 1


def test_concurrent_top_ups_cannot_pass_the_daily_limit_or_the_wallet(
    make_user: Any, fund: Any, selcom: Any, settings: Any
) -> None:
    settings.TOPUP_DAILY_LIMIT = 500_000
    user = make_user(currency="NGN")
    fund(user, 1_000_000, "NGN")

    def request(i: int) -> str:
        try:
            topup_create(
                user_id=user.pk,
                phone="+2348031230000",
                carrier="mtn",
                kind="airtime",
                amount=100_000,
                client_key=f"k{i}",
            )
        except Exception as exc:  # noqa: BLE001
            return getattr(exc, "code", repr(exc))
        return "held"

    results = race(10, request)

    assert results.count("held") == 5, results
    assert results.count("topup_daily_limit") == 5
    assert wallet(user) == 500_000
    books_balance()


def test_concurrent_account_requests_make_one_account(ng_user: Any, wema: Any) -> None:
    def create(_: int) -> str:
        account, _ = virtual_account_create(
            user_id=ng_user.pk,
            bvn="22222222222",
            first_name="Ada",
            last_name="Obi",
            phone="+2348012345678",
            email="ada@example.com",
        )
        return account.account_number

    results = race(6, create)

    assert all(isinstance(r, str) for r in results), results
    assert len(set(results)) == 1
    assert VirtualAccount.objects.count() == 1
