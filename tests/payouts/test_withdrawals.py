"""Withdrawals: the hold, the refusals, the limits, maker-checker approval, cancel, the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import transaction
from rest_framework.test import APIClient

from ledger.models import Account, Transaction
from ledger.services import Entry, Line, entries_post, receivable_for, system_account
from payments.models import Payee, Payout
from tests.payouts.helpers import assert_books_clean, ledger_keys, system_balance, wallet

pytestmark = pytest.mark.django_db


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _withdraw(client: APIClient, amount: Any, currency: str = "USD", key: str = "k1") -> Any:
    return client.post(
        "/api/withdrawals", {"amount": amount, "currency": currency}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_a_withdrawal_holds_the_money_before_anything_else(payout_user: Any) -> None:
    response = _withdraw(_client(payout_user), 5_000)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "queued"
    assert body["amount"] == {"amount": 5_000, "currency": "USD", "display": "USD 50.00"}
    payout = Payout.objects.get(pk=body["id"])
    assert wallet(payout_user) == 95_000
    assert system_balance("payout_clearing") == 5_000
    assert ledger_keys(payout) == [f"payout:{payout.pk}:hold"]
    assert payout.next_attempt_at is not None and payout.attempts == 0
    assert_books_clean()


def test_the_same_idempotency_key_replays_and_holds_once(payout_user: Any) -> None:
    client = _client(payout_user)
    first = _withdraw(client, 5_000, key="same")
    second = _withdraw(client, 5_000, key="same")
    other_body = _withdraw(client, 6_000, key="same")
    missing_key = client.post("/api/withdrawals", {"amount": 5_000, "currency": "USD"}, format="json")

    assert first.status_code == second.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert other_body.status_code == 409
    assert missing_key.status_code == 400
    assert Payout.objects.count() == 1
    assert wallet(payout_user) == 95_000


def test_bad_input_is_a_400_and_writes_nothing(payout_user: Any) -> None:
    client = _client(payout_user)
    for amount, currency in [("12.50", "USD"), (-5, "USD"), (5_000, "XXX"), (None, "USD")]:
        response = _withdraw(client, amount, currency, key=f"bad-{amount}-{currency}")
        assert response.status_code == 400, (amount, currency)
        assert response.json()["error"]["code"] == "validation_error"
    assert Payout.objects.count() == 0
    assert wallet(payout_user) == 100_000


def test_an_open_receivable_blocks_withdrawals(payout_user: Any) -> None:
    with transaction.atomic():
        owed = receivable_for(user_id=payout_user.pk, currency="USD")
        house = system_account(kind=Account.Kind.HOUSE, currency="USD")
        entries_post(
            [Entry(key="test:clawback", kind="test", lines=[Line(owed.pk, -700, "USD"), Line(house.pk, 700, "USD")])]
        )

    response = _withdraw(_client(payout_user), 5_000)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "receivable_open"
    assert response.json()["error"]["details"] == {"owed": 700}
    assert Payout.objects.count() == 0 and wallet(payout_user) == 100_000


def test_no_destination_or_a_flagged_one_is_refused(
    make_user: Callable[..., Any], fund: Callable[..., Any], payee_for: Callable[..., Any]
) -> None:
    user = make_user(currency="USD")
    fund(user, 100_000, "USD")
    client = _client(user)

    assert _withdraw(client, 5_000, key="a").json()["error"]["code"] == "no_payout_destination"
    payee = payee_for(user)
    Payee.objects.filter(pk=payee.pk).update(status=Payee.Status.FLAGGED, flag_code="account_closed")
    assert _withdraw(client, 5_000, key="b").json()["error"]["code"] == "payout_destination_flagged"
    assert Payout.objects.count() == 0


def test_insufficient_funds_is_a_422_and_writes_nothing(payout_user: Any) -> None:
    response = _withdraw(_client(payout_user), 100_001)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert Payout.objects.count() == 0
    response = _withdraw(_client(payout_user), 100_000, key="k2")
    assert response.status_code == 201  # exactly the balance is fine
    assert wallet(payout_user) == 0


@pytest.mark.parametrize(
    ("amount", "code"),
    [(2_499, "below_minimum"), (500_001, "payout_limit_exceeded")],
)
def test_per_payout_bounds(payout_user: Any, fund: Callable[..., Any], amount: int, code: str) -> None:
    fund(payout_user, 1_000_000, "USD")
    response = _withdraw(_client(payout_user), amount)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == code


def test_daily_and_monthly_limits(
    settings: Any, payout_user: Any, fund: Callable[..., Any], request_payout: Any
) -> None:
    settings.PAYOUT_LIMIT_PER_DAY = "100"
    settings.PAYOUT_LIMIT_PER_MONTH = "250"
    with time_machine.travel("2026-04-10 12:00Z", tick=False):
        request_payout(payout_user, 6_000)
        request_payout(payout_user, 4_000)
        refused = _withdraw(_client(payout_user), 2_500, key="d2")
        assert refused.json()["error"]["code"] == "daily_limit_exceeded"
    with time_machine.travel("2026-04-11 00:00:01Z", tick=False):
        request_payout(payout_user, 10_000)
    with time_machine.travel("2026-04-12 09:00Z", tick=False):
        request_payout(payout_user, 5_000)
        refused = _withdraw(_client(payout_user), 2_500, key="m1")
        assert refused.json()["error"]["code"] == "monthly_limit_exceeded"
    with time_machine.travel("2026-05-01 00:00:01Z", tick=False):
        request_payout(payout_user, 2_500)  # a new month
    assert Payout.objects.count() == 5


def test_a_canceled_or_failed_withdrawal_does_not_count_towards_the_limit(
    settings: Any, payout_user: Any, request_payout: Any
) -> None:
    from payments.payouts.services import payout_cancel

    settings.PAYOUT_LIMIT_PER_DAY = "60"
    payout = request_payout(payout_user, 6_000)
    payout_cancel(payout_id=payout.pk, user_id=payout_user.pk)
    request_payout(payout_user, 6_000)
    assert wallet(payout_user) == 94_000


def test_above_the_threshold_waits_for_a_different_operator(
    payout_user: Any, make_user: Callable[..., Any], fund: Callable[..., Any], request_payout: Any
) -> None:
    payout_user.is_staff = True
    payout_user.save()
    fund(payout_user, 100_000, "USD")
    payout = request_payout(payout_user, 125_000)  # USD 1,250.00 > 1,000.00
    assert payout.status == Payout.Status.AWAITING_APPROVAL
    assert payout.next_attempt_at is None
    assert wallet(payout_user) == 75_000  # held while it waits

    own = _client(payout_user).post(
        f"/api/admin/withdrawals/{payout.pk}/approve", {}, format="json", HTTP_IDEMPOTENCY_KEY="a"
    )
    assert own.status_code == 422
    assert own.json()["error"]["code"] == "same_approver"

    checker = make_user(is_staff=True)
    player = make_user()
    assert (
        _client(player)
        .post(f"/api/admin/withdrawals/{payout.pk}/approve", {}, format="json", HTTP_IDEMPOTENCY_KEY="a")
        .status_code
        == 403
    )
    approved = _client(checker).post(
        f"/api/admin/withdrawals/{payout.pk}/approve", {}, format="json", HTTP_IDEMPOTENCY_KEY="b"
    )
    assert approved.status_code == 200, approved.json()
    assert approved.json()["status"] == "queued"
    payout.refresh_from_db()
    assert payout.approved_by_id == checker.pk and payout.next_attempt_at is not None
    again = _client(checker).post(
        f"/api/admin/withdrawals/{payout.pk}/approve", {}, format="json", HTTP_IDEMPOTENCY_KEY="c"
    )
    assert again.status_code == 409


def test_a_rejected_withdrawal_returns_the_money(
    payout_user: Any, make_user: Callable[..., Any], fund: Callable[..., Any], request_payout: Any
) -> None:
    fund(payout_user, 50_000, "USD")
    payout = request_payout(payout_user, 120_000)
    assert payout.status == Payout.Status.AWAITING_APPROVAL
    checker = make_user(is_staff=True)
    response = _client(checker).post(
        f"/api/admin/withdrawals/{payout.pk}/reject",
        {"note": "documents missing"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="r",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "rejected"
    assert wallet(payout_user) == 150_000
    assert ledger_keys(payout) == [f"payout:{payout.pk}:hold", f"payout:{payout.pk}:reverse"]
    reverse = Transaction.objects.get(idempotency_key=f"payout:{payout.pk}:reverse")
    assert reverse.reverses_id == Transaction.objects.get(idempotency_key=f"payout:{payout.pk}:hold").pk
    assert_books_clean()


def test_cancel_before_any_attempt_only(payout_user: Any, make_user: Callable[..., Any], request_payout: Any) -> None:
    payout = request_payout(payout_user, 5_000)
    stranger = make_user()
    assert _client(stranger).post(f"/api/withdrawals/{payout.pk}/cancel", HTTP_IDEMPOTENCY_KEY="x").status_code == 404

    response = _client(payout_user).post(f"/api/withdrawals/{payout.pk}/cancel", HTTP_IDEMPOTENCY_KEY="x")
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert wallet(payout_user) == 100_000

    tried = request_payout(payout_user, 5_000)
    Payout.objects.filter(pk=tried.pk).update(attempts=1)  # Stripe may have it: no cancel
    response = _client(payout_user).post(f"/api/withdrawals/{tried.pk}/cancel", HTTP_IDEMPOTENCY_KEY="y")
    assert response.status_code == 409
    assert wallet(payout_user) == 95_000
    assert_books_clean()


def test_the_list_shows_only_the_callers_withdrawals(
    payout_user: Any, make_user: Callable[..., Any], fund: Callable[..., Any], payee_for: Any, request_payout: Any
) -> None:
    other = make_user(currency="USD")
    fund(other, 10_000, "USD")
    payee_for(other)
    mine = request_payout(payout_user, 5_000)
    request_payout(other, 5_000)

    body = _client(payout_user).get("/api/withdrawals").json()
    assert [p["id"] for p in body["results"]] == [mine.pk]


def test_destination_link_and_read(make_user: Callable[..., Any]) -> None:
    user = make_user()
    client = _client(user)
    assert client.get("/api/payout-destination").status_code == 404
    assert client.put("/api/payout-destination", {"stripe_account_id": "nope"}, format="json").status_code == 400
    response = client.put("/api/payout-destination", {"stripe_account_id": "acct_1AbC"}, format="json")
    assert response.status_code == 200
    assert response.json()["stripe_account_id"] == "acct_1AbC"
    client.put("/api/payout-destination", {"stripe_account_id": "acct_2XyZ"}, format="json")
    assert client.get("/api/payout-destination").json()["stripe_account_id"] == "acct_2XyZ"
    assert Payee.objects.filter(user=user).count() == 1
