"""Adapters against their providers' documented formats: Selcom's signing, Paystack's accounts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from payments.models import BankTransaction, TopUp, VirtualAccount
from payments.topup.adapters import Outcome, SelcomAdapter, selcom_digest
from payments.topup.services import topup_create, topup_query, topup_send
from tests.fakes.selcom import FakeSelcom
from tests.payments_in.conftest import books_balance, wallet

pytestmark = pytest.mark.django_db


def test_selcom_digest_is_the_documented_string() -> None:
    fields = [("transid", "T1"), ("utilitycode", "TOP"), ("amount", "1500")]
    message = b"timestamp=2019-02-26T09:30:46+03:00&transid=T1&utilitycode=TOP&amount=1500"
    expected = base64.b64encode(hmac.new(b"s3cret", message, hashlib.sha256).digest()).decode()
    assert selcom_digest(secret="s3cret", timestamp="2019-02-26T09:30:46+03:00", fields=fields) == expected


def signed_headers(body: dict[str, Any], order: list[str], *, timestamp: str, secret: str, key: str) -> dict[str, str]:
    message = "&".join([f"timestamp={timestamp}", *(f"{name}={body[name]}" for name in order)])
    return {
        "Authorization": "SELCOM " + base64.b64encode(key.encode()).decode(),
        "Digest-Method": "HS256",
        "Timestamp": timestamp,
        "Signed-Fields": ",".join(order),
        "Digest": base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()).decode(),
    }


def test_the_fake_checks_signatures_as_documented(serve: Any) -> None:
    served = serve(FakeSelcom(api_key="k", api_secret="s", vendor="V", pin="1"))
    body = {
        "transid": "T1",
        "utilitycode": "TOP",
        "utilityref": "2348031230000",
        "amount": 1500,
        "vendor": "V",
        "pin": "1",
        "msisdn": "2348031230000",
    }
    order = list(body)
    url = served.url + "/v1/utilitypayment/process"
    # The SDK's "+0300" timestamp is accepted like "+03:00".
    ok = httpx.post(
        url, json=body, headers=signed_headers(body, order, timestamp="2019-02-26T09:30:46+0300", secret="s", key="k")
    )
    assert ok.json()["resultcode"] == "000"

    body["transid"] = "T2"
    wrong_order = signed_headers(body, order, timestamp="2019-02-26T09:30:46+03:00", secret="s", key="k")
    wrong_order["Signed-Fields"] = ",".join(reversed(order))  # order matters
    assert httpx.post(url, json=body, headers=wrong_order).status_code == 401
    wrong_key = signed_headers(body, order, timestamp="2019-02-26T09:30:46+03:00", secret="s", key="other")
    assert httpx.post(url, json=body, headers=wrong_key).status_code == 401
    tampered = signed_headers(body, order, timestamp="2019-02-26T09:30:46+03:00", secret="s", key="k")
    assert httpx.post(url, json={**body, "amount": 15000}, headers=tampered).status_code == 401
    assert served.get("/_fake/transactions").keys() == {"T1"}


def test_a_wrong_api_secret_fails_the_top_up_and_refunds(ng_user: Any, serve: Any, settings: Any) -> None:
    served = serve(FakeSelcom(api_secret="the-real-secret"))
    settings.SELCOM_BASE_URL = served.url
    settings.SELCOM_API_SECRET = "a-stale-secret"
    topup = topup_create(
        user_id=ng_user.pk, phone="+2348031230000", carrier="mtn", kind="airtime", amount=100_000, client_key="s"
    )

    done = topup_send(topup_id=topup.pk)

    assert done.status == "failed" and done.result_code == "401"
    assert served.app.rejected == ["Digest does not match"]
    assert served.get("/_fake/transactions") == {}
    assert wallet(ng_user) == 10_000_000
    books_balance()


def test_a_refused_query_is_not_taken_for_a_failure(ng_user: Any, serve: Any, settings: Any) -> None:
    served = serve(FakeSelcom(api_secret="the-real-secret"))
    settings.SELCOM_BASE_URL = served.url
    settings.SELCOM_API_SECRET = "the-real-secret"
    topup = topup_create(
        user_id=ng_user.pk, phone="+2348031230002", carrier="mtn", kind="airtime", amount=100_000, client_key="q"
    )
    assert topup_send(topup_id=topup.pk).status == "processing"
    settings.SELCOM_API_SECRET = "rotated-too-early"

    after = topup_query(topup_id=topup.pk, force=True)

    assert after.status == "processing"  # a 401 on the query says nothing about the payment
    assert wallet(ng_user) == 10_000_000 - 100_000


def test_data_bundles_use_the_data_utility_code(ng_user: Any, selcom: Any) -> None:
    topup = topup_create(
        user_id=ng_user.pk, phone="+2349031230000", carrier="9mobile", kind="data", amount=100_000, client_key="d"
    )
    topup_send(topup_id=topup.pk)
    assert selcom.get("/_fake/transactions")[topup.transid]["utilitycode"] == "TOPDATA"


def test_garbled_answer_is_unknown_not_failed(httpserver: Any) -> None:
    httpserver.expect_request("/v1/utilitypayment/process").respond_with_data("<html>oops</html>", status=200)
    adapter = SelcomAdapter(
        base_url=httpserver.url_for(""),
        api_key="k",
        api_secret="s",
        vendor="V",
        pin="1",
        timeout_s=2,
        utility_codes={"airtime": "TOP", "data": "TOPDATA"},
    )
    result = adapter.pay(transid="T", phone="+2348031230000", amount=10_000, currency="NGN", kind="airtime")
    assert result.outcome == Outcome.UNKNOWN
    adapter.close()


# --- Paystack dedicated accounts ------------------------------------------------------------


def paystack_serves(httpserver: Any, settings: Any, account_number: str) -> None:
    """Paystack as its API reference shows it: a customer, then its dedicated Wema account."""
    settings.TREASURY_PROVIDER = "paystack"
    settings.PAYSTACK_BASE_URL = httpserver.url_for("")
    settings.PAYSTACK_SECRET_KEY = "sk_test_tote"
    auth = {"Authorization": "Bearer sk_test_tote"}
    httpserver.expect_request("/customer", method="POST", headers=auth).respond_with_json(
        {"status": True, "message": "Customer created", "data": {"customer_code": "CUS_tote1", "id": 481193}}
    )
    httpserver.expect_request(
        "/dedicated_account",
        method="POST",
        headers=auth,
        json={"customer": "CUS_tote1", "preferred_bank": "wema-bank", "phone": "+2348012345678"},
    ).respond_with_json(
        {
            "status": True,
            "message": "NUBAN successfully created",
            "data": {
                "bank": {"name": "Wema Bank", "id": 20, "slug": "wema-bank"},
                "account_name": "TOTE / RHODA CHURCH",
                "account_number": account_number,
                "assigned": True,
                "currency": "NGN",
            },
        }
    )


ACCOUNT = {
    "bvn": "22222222222",
    "first_name": "Rhoda",
    "last_name": "Church",
    "phone": "+2348012345678",
    "email": "r@example.com",
}


def paystack_event(account_number: str, amount: int, reference: str, channel: str = "dedicated_nuban") -> bytes:
    return json.dumps(
        {
            "event": "charge.success",
            "data": {
                "reference": reference,
                "amount": amount,
                "currency": "NGN",
                "channel": channel,
                "paid_at": "2026-11-21T12:00:00.000Z",
                "authorization": {
                    "receiver_bank_account_number": account_number,
                    "receiver_bank": "Wema Bank",
                    "sender_bank": "Access Bank",
                    "sender_bank_account_number": "XXXXXX4321",
                    "sender_name": "RHODA CHURCH",
                    "narration": "NIP transfer",
                },
            },
        }
    ).encode()


def test_paystack_account_with_a_bad_check_digit_is_refused(
    api: Any, ng_user: Any, httpserver: Any, settings: Any
) -> None:
    paystack_serves(httpserver, settings, "1234567890")  # not a valid Wema NUBAN
    api.force_authenticate(ng_user)

    response = api.post("/api/treasury/accounts", ACCOUNT, format="json")

    assert response.status_code == 502
    assert VirtualAccount.objects.count() == 0


def test_paystack_account_and_deposit(api: Any, ng_user: Any, httpserver: Any, settings: Any) -> None:
    from payments.treasury.nuban import nuban_make

    number = nuban_make(bank_code="035", serial=481193)
    paystack_serves(httpserver, settings, number)
    api.force_authenticate(ng_user)

    created = api.post("/api/treasury/accounts", ACCOUNT, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["provider"] == "paystack" and created.json()["account_number"] == number

    api.force_authenticate(None)

    def deliver(raw: bytes, signature: str) -> Any:
        return api.post(
            "/api/treasury/webhook/paystack", raw, content_type="application/json", HTTP_X_PAYSTACK_SIGNATURE=signature
        )

    raw = paystack_event(number, 250_000, "PSK-REF-1")
    signature = hmac.new(b"sk_test_tote", raw, hashlib.sha512).hexdigest()
    assert deliver(raw, signature).status_code == 200
    assert deliver(raw, signature).status_code == 200  # a repeat credits nothing
    assert wallet(ng_user) == 10_000_000 + 250_000
    assert BankTransaction.objects.get().ledger_transaction.idempotency_key == "deposit:paystack:PSK-REF-1"

    # Another channel is not a transfer to a dedicated account: acknowledged, nothing credited.
    card = paystack_event(number, 990_000, "PSK-CARD", channel="card")
    assert deliver(card, hmac.new(b"sk_test_tote", card, hashlib.sha512).hexdigest()).status_code == 200
    assert deliver(raw, "00" * 64).status_code == 401
    assert BankTransaction.objects.count() == 1
    assert TopUp.objects.count() == 0
    books_balance()
