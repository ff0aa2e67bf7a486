"""Signatures of both providers' webhooks: tampered body, wrong secret, missing header, replay."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from payments.models import BankTransaction, TopUp, TopUpEvent
from payments.treasury.services import virtual_account_create
from realtime.models import OutboxEvent
from tests.payments_in.conftest import books_balance, sign_selcom_callback, signed_deposit, wallet

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


# --- Wema deposits --------------------------------------------------------------------------


@pytest.fixture
def account(ng_user: Any, wema: Any) -> Any:
    account, _ = virtual_account_create(
        user_id=ng_user.pk,
        bvn="22222222222",
        first_name="John",
        last_name="Doe",
        phone="+2348012345678",
        email="john@example.com",
    )
    return account


def deliver(api: Any, raw: bytes, signature: str | None) -> Any:
    extra = {"HTTP_X_WEMA_SIGNATURE": signature} if signature is not None else {}
    return api.post("/api/treasury/webhook", raw, content_type="application/json", **extra)


def test_signed_deposit_is_credited(api: Any, ng_user: Any, account: Any) -> None:
    raw, signature = signed_deposit(account_number=account.account_number, amount=50_000, reference="WEMA-TXN-1")

    response = deliver(api, raw, signature)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "00"
    assert response.json()["transactionreference"] == "WEMA-TXN-1"
    assert wallet(ng_user) == 10_000_000 + 5_000_000  # NGN 50,000 in kobo
    record = BankTransaction.objects.get()
    assert record.ledger_transaction.idempotency_key == "deposit:wema:WEMA-TXN-1"
    assert (record.amount, record.sender_name, record.sender_bank) == (5_000_000, "MARY JANE", "Access Bank")
    event = OutboxEvent.objects.filter(type="balance.updated", user_id=ng_user.pk).latest("seq")
    assert event.data["transaction"] == record.ledger_transaction_id
    books_balance()


def test_tampered_body_is_refused(api: Any, ng_user: Any, account: Any) -> None:
    raw, signature = signed_deposit(account_number=account.account_number, amount=50, reference="R1")
    tampered = raw.replace(b'"amount": 50', b'"amount": 50000')
    assert tampered != raw

    response = deliver(api, tampered, signature)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert BankTransaction.objects.count() == 0
    assert wallet(ng_user) == 10_000_000


def test_wrong_secret_is_refused(api: Any, ng_user: Any, account: Any) -> None:
    raw, signature = signed_deposit(account_number=account.account_number, amount=50, secret="not-the-secret")
    assert deliver(api, raw, signature).status_code == 401
    # Signed with SHA-256 instead of SHA-512: refused too.
    sha256 = hmac.new(b"tote-fake-wema-webhook", raw, hashlib.sha256).hexdigest()
    assert deliver(api, raw, sha256).status_code == 401
    assert BankTransaction.objects.count() == 0


def test_missing_or_empty_header_is_refused(api: Any, ng_user: Any, account: Any) -> None:
    raw, _ = signed_deposit(account_number=account.account_number, amount=50)
    assert deliver(api, raw, None).json()["error"]["code"] == "missing_signature"
    assert deliver(api, raw, "").status_code == 401
    assert deliver(api, raw, "zz-not-hex-or-base64").status_code == 401
    assert BankTransaction.objects.count() == 0


def test_base64_signature_is_accepted(api: Any, ng_user: Any, account: Any, settings: Any) -> None:
    raw, _ = signed_deposit(account_number=account.account_number, amount=50)
    signature = base64.b64encode(hmac.new(settings.WEMA_WEBHOOK_SECRET.encode(), raw, hashlib.sha512).digest())
    assert deliver(api, raw, signature.decode()).status_code == 200


def test_replay_credits_once(api: Any, ng_user: Any, account: Any) -> None:
    raw, signature = signed_deposit(account_number=account.account_number, amount=1_000, reference="R-REPLAY")

    first = deliver(api, raw, signature)
    second = deliver(api, raw, signature)

    assert first.status_code == second.status_code == 200
    assert second.json()["status_desc"].startswith("duplicate")
    assert second.json()["ref"] == first.json()["ref"]
    assert BankTransaction.objects.count() == 1
    assert wallet(ng_user) == 10_000_000 + 100_000
    assert OutboxEvent.objects.filter(type="balance.updated", data__reason="deposit", user_id=ng_user.pk).count() == 2
    books_balance()


def test_same_reference_other_amount_is_a_conflict(api: Any, ng_user: Any, account: Any) -> None:
    raw, signature = signed_deposit(account_number=account.account_number, amount=1_000, reference="R-X")
    assert deliver(api, raw, signature).status_code == 200
    raw, signature = signed_deposit(account_number=account.account_number, amount=9_000, reference="R-X")

    response = deliver(api, raw, signature)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "reference_mismatch"
    assert wallet(ng_user) == 10_000_000 + 100_000


def test_alat_form_deduplicates_on_sessionid(api: Any, ng_user: Any, account: Any) -> None:
    raw, signature = signed_deposit(
        account_number=account.account_number, amount="2500.50", reference="S1", form="alat"
    )

    assert deliver(api, raw, signature).status_code == 200
    assert deliver(api, raw, signature).status_code == 200

    record = BankTransaction.objects.get()
    assert record.reference == "S1" and record.amount == 250_050
    assert wallet(ng_user) == 10_000_000 + 250_050
    books_balance()


def test_a_receivable_is_paid_off_first(api: Any, ng_user: Any, account: Any) -> None:
    from ledger.models import Account
    from ledger.services import Line, receivable_for, system_account, transaction_post, wallet_for

    # A claw-back left the user owing NGN 1,200.00 beyond an empty wallet.
    wallet_row = wallet_for(user_id=ng_user.pk, currency="NGN")
    receivable = receivable_for(user_id=ng_user.pk, currency="NGN")
    house = system_account(kind=Account.Kind.HOUSE, currency="NGN")
    transaction_post(
        key="test:clawback",
        kind="test",
        lines=[
            Line(wallet_row.pk, -10_000_000, "NGN"),
            Line(receivable.pk, -120_000, "NGN"),
            Line(house.pk, 10_120_000, "NGN"),
        ],
    )
    raw, signature = signed_deposit(account_number=account.account_number, amount=2_000)

    assert deliver(api, raw, signature).status_code == 200

    assert receivable_for(user_id=ng_user.pk, currency="NGN").balance == 0
    assert wallet(ng_user) == 200_000 - 120_000
    books_balance()


def test_suspended_account_is_refused(api: Any, ng_user: Any, account: Any) -> None:
    from payments.treasury.services import virtual_account_set_status

    virtual_account_set_status(account_id=account.pk, status="suspended")
    raw, signature = signed_deposit(account_number=account.account_number, amount=2_000)

    response = deliver(api, raw, signature)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "account_not_active"
    assert wallet(ng_user) == 10_000_000


def test_webhook_is_off_without_a_secret(api: Any, ng_user: Any, account: Any, settings: Any) -> None:
    raw, signature = signed_deposit(account_number=account.account_number, amount=2_000)
    settings.WEMA_WEBHOOK_SECRET = ""

    response = deliver(api, raw, signature)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "webhook_off"
    assert BankTransaction.objects.count() == 0


# --- Selcom callback ------------------------------------------------------------------------


@pytest.fixture
def processing(api: Any, ng_user: Any, selcom: Any, time_machine: Any) -> TopUp:
    time_machine.move_to(START, tick=False)
    api.force_authenticate(ng_user)
    body = api.post(
        "/api/topup",
        {"phone": "+2348031230002", "carrier": "glo", "amount": 100_000},
        format="json",
        HTTP_IDEMPOTENCY_KEY="cb",
    ).json()
    assert body["status"] == "processing"
    api.force_authenticate(None)
    return TopUp.objects.get(pk=body["id"])


def callback(api: Any, raw: bytes, signature: str | None) -> Any:
    extra = {"HTTP_X_SELCOM_SIGNATURE": signature} if signature is not None else {}
    return api.post("/api/topup/webhook", raw, content_type="application/json", **extra)


def seed_callback(topup: TopUp, status: str = "SUCCESS") -> dict[str, Any]:
    return {
        "order_id": topup.transid,
        "status": status,
        "reference_id": "SELCOM-REF-789",
        "result_code": "0000",
        "result_description": "Topup successful",
    }


def test_signed_callback_makes_the_query_due_now(
    api: Any, processing: TopUp, selcom: Any, django_capture_on_commit_callbacks: Any
) -> None:
    raw, signature = sign_selcom_callback(seed_callback(processing))

    with django_capture_on_commit_callbacks() as queued:
        response = callback(api, raw, signature)

    assert response.status_code == 200
    assert response.json() == {"received": True, "transid": processing.transid, "status": "processing"}
    assert len(queued) == 1  # a query task, after commit
    processing.refresh_from_db()
    assert processing.next_attempt_at == START  # due at once, not in 3 minutes
    # The callback is a hint; the query is the truth.
    from payments.topup.services import topup_query

    assert topup_query(topup_id=processing.pk).status == "succeeded"
    assert selcom.get("/_fake/transactions")[processing.transid]["process_calls"] == 1


def test_callback_tampered_wrong_secret_or_missing_header_is_refused(api: Any, processing: TopUp) -> None:
    raw, signature = sign_selcom_callback(seed_callback(processing, "FAILED"))
    tampered = raw.replace(b"FAILED", b"SUCCESS")
    _, wrong = sign_selcom_callback(raw, secret="guess")

    for body, sig, code in (
        (tampered, signature, "invalid_signature"),
        (raw, wrong, "invalid_signature"),
        (raw, None, "missing_signature"),
    ):
        response = callback(api, body, sig)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == code

    processing.refresh_from_db()
    assert processing.next_attempt_at == START + timedelta(seconds=180)
    assert not TopUpEvent.objects.filter(topup=processing, kind="callback").exists()


def test_callback_replay_is_harmless(
    api: Any, processing: TopUp, ng_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    raw, signature = sign_selcom_callback(seed_callback(processing))
    from payments.topup.services import topup_query

    with django_capture_on_commit_callbacks(execute=False):
        assert callback(api, raw, signature).status_code == 200
        assert callback(api, raw, signature).status_code == 200
    assert topup_query(topup_id=processing.pk).status == "succeeded"
    with django_capture_on_commit_callbacks() as queued:
        again = callback(api, raw, signature)

    assert again.status_code == 200 and again.json()["status"] == "succeeded"
    assert queued == []  # a final top-up is not queried again
    assert wallet(ng_user) == 10_000_000 - 100_000
    assert TopUpEvent.objects.filter(topup=processing, kind="callback").count() == 3
    books_balance()


def test_callback_contradicting_a_refund_flags_the_top_up(api: Any, processing: TopUp) -> None:
    from payments.topup.services import topup_refund

    topup_refund(topup_id=processing.pk, operator="ops", reason="customer complaint")
    raw, signature = sign_selcom_callback(seed_callback(processing, "SUCCESS"))

    assert callback(api, raw, signature).status_code == 200

    processing.refresh_from_db()
    assert processing.status == "failed"
    assert processing.flagged_at is not None
    assert "SUCCESS" in processing.flag_reason


def test_callback_sha512_or_foreign_json_is_refused(api: Any, processing: TopUp, settings: Any) -> None:
    raw = json.dumps(seed_callback(processing)).encode()
    sha512 = hmac.new(settings.SELCOM_CALLBACK_SECRET.encode(), raw, hashlib.sha512).hexdigest()
    assert callback(api, raw, sha512).status_code == 401
