"""Bad input on every endpoint: a 400 with the error body, and nothing held, saved or sent."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.models import Transaction
from payments.models import BankTransaction, TopUp, VirtualAccount
from tests.payments_in.conftest import sign_selcom_callback, signed_deposit, wallet

pytestmark = pytest.mark.django_db

GOOD_TOPUP = {"phone": "+2348031230000", "carrier": "mtn", "amount": 150_000, "type": "airtime"}
GOOD_ACCOUNT = {
    "bvn": "22222222222",
    "first_name": "John",
    "last_name": "Doe",
    "phone": "+2348012345678",
    "email": "john@example.com",
}


def assert_error(response: Any, status: int = 400, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["message"]
    if code is not None:
        assert error["code"] == code
    return error


@pytest.fixture
def client(api: Any, ng_user: Any) -> Any:
    api.force_authenticate(ng_user)
    return api


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"phone": "08031230000"}, "invalid_phone"),  # not E.164
        ({"phone": "+2348031230"}, "invalid_phone"),  # too short
        ({"phone": "+14155550123"}, "invalid_phone"),  # not Nigerian
        ({"phone": "+2346031230000"}, "invalid_phone"),  # not a mobile range
        ({"phone": 2348031230000}, "invalid_phone"),  # a number, read as text: no plus
        ({"carrier": "vodafone"}, "invalid_carrier"),
        ({"carrier": ""}, "validation_error"),
        ({"type": "sms"}, "invalid_type"),
        ({"amount": "150000"}, "validation_error"),  # a string is not an amount
        ({"amount": 1500.5}, "validation_error"),
        ({"amount": 150000.0}, "validation_error"),
        ({"amount": True}, "validation_error"),
        ({"amount": -150_000}, "invalid_amount"),
        ({"amount": 0}, "invalid_amount"),
        ({"amount": 150_050}, "invalid_amount"),  # kobo: airtime is whole naira
        ({"amount": 4_900}, "amount_out_of_range"),
        ({"amount": 5_000_100}, "amount_out_of_range"),
        ({"amount": 10**16}, "invalid_amount"),
        ({"phone": None}, "validation_error"),
    ],
)
def test_topup_refuses_bad_input_and_holds_nothing(
    client: Any, ng_user: Any, selcom: Any, change: dict[str, Any], code: str
) -> None:
    before_tx = Transaction.objects.count()
    body = {**GOOD_TOPUP, **change}

    response = client.post("/api/topup", body, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert_error(response, 400, code)
    assert TopUp.objects.count() == 0
    assert Transaction.objects.count() == before_tx
    assert wallet(ng_user) == 10_000_000
    assert selcom.get("/_fake/transactions") == {}


@pytest.mark.parametrize("missing", ["phone", "carrier", "amount"])
def test_topup_refuses_missing_fields(client: Any, ng_user: Any, missing: str) -> None:
    body = {k: v for k, v in GOOD_TOPUP.items() if k != missing}
    error = assert_error(client.post("/api/topup", body, format="json", HTTP_IDEMPOTENCY_KEY="k"), 400)
    assert missing in error["details"]["fields"]
    assert TopUp.objects.count() == 0


def test_topup_needs_an_idempotency_key(client: Any, ng_user: Any) -> None:
    assert_error(client.post("/api/topup", GOOD_TOPUP, format="json"), 400, "idempotency_key_required")
    assert TopUp.objects.count() == 0


def test_topup_refuses_a_body_that_is_not_json(client: Any, ng_user: Any) -> None:
    response = client.post("/api/topup", b"{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert_error(response, 400, "malformed_request")
    assert TopUp.objects.count() == 0 and wallet(ng_user) == 10_000_000


def test_topup_needs_authentication(api: Any) -> None:
    assert api.post("/api/topup", GOOD_TOPUP, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 401


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"bvn": "2222222222"}, "invalid_bvn"),  # 10 digits
        ({"bvn": "222222222222"}, "invalid_bvn"),  # 12
        ({"bvn": "2222222222a"}, "invalid_bvn"),
        ({"first_name": "J0hn"}, "invalid_name"),
        ({"last_name": "   "}, "validation_error"),
        ({"phone": "08012345678"}, "invalid_phone"),
        ({"email": "not-an-email"}, "validation_error"),
        ({"bvn": None}, "validation_error"),
    ],
)
def test_account_refuses_bad_input_and_calls_nobody(client: Any, wema: Any, change: dict[str, Any], code: str) -> None:
    response = client.post("/api/treasury/accounts", {**GOOD_ACCOUNT, **change}, format="json")

    assert_error(response, 400, code)
    assert VirtualAccount.objects.count() == 0
    assert wema.app.create_calls == 0


def test_account_refuses_missing_fields(client: Any, wema: Any) -> None:
    error = assert_error(client.post("/api/treasury/accounts", {"bvn": "22222222222"}, format="json"), 400)
    assert set(error["details"]["fields"]) == {"first_name", "last_name", "phone", "email"}
    assert wema.app.create_calls == 0


@pytest.fixture
def account(client: Any, wema: Any) -> dict[str, Any]:
    return client.post("/api/treasury/accounts", GOOD_ACCOUNT, format="json").json()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"account_number": "%(acct)s", "amount": 5000}',  # no reference
        b'{"account_number": "%(acct)s", "amount": -5, "transaction_reference": "R1"}',
        b'{"account_number": "%(acct)s", "amount": "50.001", "transaction_reference": "R1"}',
        b'{"account_number": "%(acct)s", "amount": "1e3", "transaction_reference": "R1"}',
        b'{"account_number": "%(acct)s", "amount": true, "transaction_reference": "R1"}',
        b'{"account_number": "%(acct)s", "amount": 0, "transaction_reference": "R1"}',
        b'{"account_number": 12345, "amount": 5000, "transaction_reference": "R1"}',
        b'{"account_number": "%(acct)s", "amount": 5000, "transaction_reference": "R1", "currency": "USD"}',
        b'{"account_number": "%(acct)s", "amount": 5000, "transaction_reference": "R1", "transaction_date": "soon"}',
        b'{"craccount": "%(acct)s", "amount": "5000.00", "currency": "NGN"}',  # ALAT form without sessionid
    ],
)
def test_deposit_webhook_refuses_malformed_bodies(
    api: Any, ng_user: Any, account: dict[str, Any], settings: Any, body: bytes
) -> None:
    from tests.fakes.wema import sign

    raw = body.replace(b"%(acct)s", account["account_number"].encode())
    response = api.post(
        "/api/treasury/webhook",
        raw,
        content_type="application/json",
        HTTP_X_WEMA_SIGNATURE=sign(raw, settings.WEMA_WEBHOOK_SECRET),
    )

    assert_error(response, 400)
    assert BankTransaction.objects.count() == 0
    assert wallet(ng_user) == 10_000_000


def test_callback_refuses_malformed_bodies(api: Any) -> None:
    for body in (b"{nope", b'{"status": "SUCCESS"}', b'{"order_id": 5}', b'{"order_id": "X", "status": 1}'):
        raw, signature = sign_selcom_callback(body)
        response = api.post(
            "/api/topup/webhook", raw, content_type="application/json", HTTP_X_SELCOM_SIGNATURE=signature
        )
        assert_error(response, 400, "malformed_body")


def test_unknown_ids_are_404(client: Any, ng_user: Any, account: dict[str, Any]) -> None:
    assert_error(client.get("/api/topup/999999"), 404)
    raw, signature = sign_selcom_callback({"order_id": "TOTE-NOPE", "status": "SUCCESS"})
    assert_error(
        client.post("/api/topup/webhook", raw, content_type="application/json", HTTP_X_SELCOM_SIGNATURE=signature),
        404,
        "unknown_topup",
    )
    raw, signature = signed_deposit(account_number="0000000019", amount=5000)
    assert_error(
        client.post("/api/treasury/webhook", raw, content_type="application/json", HTTP_X_WEMA_SIGNATURE=signature),
        404,
        "unknown_account",
    )
    assert BankTransaction.objects.count() == 0
