"""Bad input gets a 400 with the error body, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from core.models import IdempotencyRecord
from ledger.models import Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_api(staff: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(staff)
    return client


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -100}, "amount"),
        ({"amount": 10.5}, "amount"),
        ({"amount": "12abc"}, "amount"),
        ({"amount": 10**30}, "amount"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": None}, "currency"),
        ({"user": "someone"}, "user"),
        ({"reference": ""}, "reference"),
    ],
)
def test_bad_deposit_fields(staff_api: APIClient, user: Any, change: dict[str, Any], field: str) -> None:
    body = {"user": user.pk, "amount": 1_000, "currency": "NGN", "reference": "ref"} | change
    before = Transaction.objects.count()
    response = staff_api.post("/api/simulate/deposit_webhook", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]
    assert Transaction.objects.count() == before
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize("missing", ["user", "amount", "currency", "reference"])
def test_missing_fields(staff_api: APIClient, user: Any, missing: str) -> None:
    body = {"user": user.pk, "amount": 1_000, "currency": "NGN", "reference": "ref"}
    del body[missing]
    response = staff_api.post("/api/simulate/deposit_webhook", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400
    assert missing in response.json()["error"]["details"]["fields"]
    assert Transaction.objects.count() == 0


def test_malformed_json(staff_api: APIClient) -> None:
    response = staff_api.post(
        "/api/simulate/deposit_webhook",
        data=b'{"user": 1, "amount": ',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    assert Transaction.objects.count() == 0


def test_unknown_user_is_404(staff_api: APIClient) -> None:
    body = {"user": 999_999, "amount": 1_000, "currency": "NGN", "reference": "ref"}
    response = staff_api.post("/api/simulate/deposit_webhook", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 404
    assert Transaction.objects.count() == 0


def test_players_cannot_simulate_deposits(auth_api: APIClient, user: Any) -> None:
    body = {"user": user.pk, "amount": 1_000, "currency": "NGN", "reference": "ref"}
    response = auth_api.post("/api/simulate/deposit_webhook", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Transaction.objects.count() == 0


def test_off_when_disabled(staff_api: APIClient, user: Any, settings: Any) -> None:
    settings.SIMULATED_DEPOSITS_ENABLED = False
    body = {"user": user.pk, "amount": 1_000, "currency": "NGN", "reference": "ref"}
    response = staff_api.post("/api/simulate/deposit_webhook", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 404
    assert Transaction.objects.count() == 0
