"""`Idempotency-Key` on money-moving POSTs, through the simulated deposit endpoint."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from ledger.models import Transaction
from ledger.reconcile import reconcile
from ledger.selectors import wallets_for_user


def _staff_client(staff: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff)
    return client


def _deposit(client: APIClient, key: str | None, **body: Any) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post("/api/simulate/deposit_webhook", body, format="json", **headers)


@pytest.mark.django_db
def test_replay_returns_the_same_body_and_moves_money_once(staff: Any, user: Any) -> None:
    client = _staff_client(staff)
    first = _deposit(client, "dep-1", user=user.pk, amount=5_000, currency="NGN", reference="r1")
    again = _deposit(client, "dep-1", user=user.pk, amount=5_000, currency="NGN", reference="r1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert wallets_for_user(user_id=user.pk)[0].available == 5_000


@pytest.mark.django_db
def test_same_key_other_body_is_409(staff: Any, user: Any) -> None:
    client = _staff_client(staff)
    _deposit(client, "dep-2", user=user.pk, amount=5_000, currency="NGN", reference="r2")
    clash = _deposit(client, "dep-2", user=user.pk, amount=6_000, currency="NGN", reference="r2")
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "idempotency_key_reused"
    assert wallets_for_user(user_id=user.pk)[0].available == 5_000


@pytest.mark.django_db
def test_the_key_is_required(staff: Any, user: Any) -> None:
    response = _deposit(_staff_client(staff), None, user=user.pk, amount=5, currency="NGN", reference="r3")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"


@pytest.mark.django_db
def test_an_error_is_not_stored_so_the_key_can_be_retried(staff: Any, user: Any) -> None:
    client = _staff_client(staff)
    bad = _deposit(client, "dep-4", user=user.pk, amount=0, currency="NGN", reference="r4")
    assert bad.status_code == 400
    good = _deposit(client, "dep-4", user=user.pk, amount=0, currency="NGN", reference="r4")
    assert good.status_code == 400  # same body, same verdict: nothing was stored either time
    fixed = _deposit(client, "dep-4", user=user.pk, amount=10, currency="NGN", reference="r4")
    assert fixed.status_code == 201


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_ten_concurrent_requests_with_one_key_make_one_transaction(make_user: Any) -> None:
    staff, player = make_user(is_staff=True), make_user()
    before = Transaction.objects.count()
    responses: list[Any] = []
    lock = threading.Lock()
    start = threading.Barrier(10)

    def send() -> None:
        client = _staff_client(staff)
        start.wait()
        try:
            response = _deposit(client, "same-key", user=player.pk, amount=700, currency="NGN", reference="conc")
            with lock:
                responses.append(response)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert [r.status_code for r in responses] == [201] * 10
    assert len({r.content for r in responses}) == 1
    assert sum(1 for r in responses if r.get("Idempotent-Replayed") != "true") == 1
    assert Transaction.objects.count() == before + 1
    assert wallets_for_user(user_id=player.pk)[0].available == 700
    assert reconcile().clean
