"""Stripe webhooks: signatures, de-duplication, and a paid payout that comes back."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rest_framework.test import APIClient

from ledger.models import Account, Transaction
from ledger.services import Entry, Line, entries_post, receivable_for, system_account
from payments.models import Payee, Payout, StripeEvent
from payments.payouts.runs import payout_transfer_reversal_push, payouts_sweep
from tests.fakes.stripe import FakeStripe
from tests.payouts.helpers import assert_books_clean, ledger_keys, receivable, system_balance, wallet

pytestmark = pytest.mark.django_db

URL = "/api/payments/stripe/webhook"


def _post(fake: FakeStripe, type_: str, obj: dict[str, Any], **options: Any) -> Any:
    body, headers, _ = fake.build_event(type_, obj, **options)
    return APIClient().post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"]
    )


@pytest.fixture
def paid(fake_stripe: FakeStripe, payout_user: Any, request_payout: Any, run: Any) -> Payout:
    payout = request_payout(payout_user, 5_000)
    run()
    payout.refresh_from_db()
    assert payout.status == Payout.Status.PAID
    return payout


def test_a_bad_or_stale_signature_is_refused_and_nothing_is_kept(fake_stripe: FakeStripe, paid: Payout) -> None:
    transfer = fake_stripe.transfers[paid.stripe_transfer_id]
    obj = fake_stripe.payout_object(transfer, status="failed", failure_code="account_closed")
    body, headers, _ = fake_stripe.build_event("payout.failed", obj)

    tampered = APIClient().post(
        URL,
        data=body.replace(b"account_closed", b"account_frozen"),
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
    )
    unsigned = APIClient().post(URL, data=body, content_type="application/json")
    stale_body, stale_headers, _ = fake_stripe.build_event("payout.failed", obj, timestamp=int(time.time()) - 301)
    stale = APIClient().post(
        URL, data=stale_body, content_type="application/json", HTTP_STRIPE_SIGNATURE=stale_headers["Stripe-Signature"]
    )

    for response in (tampered, unsigned, stale):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid_signature"
    assert StripeEvent.objects.count() == 0
    paid.refresh_from_db()
    assert paid.status == Payout.Status.PAID


def test_payout_paid_confirms_the_bank_payout(fake_stripe: FakeStripe, paid: Payout) -> None:
    obj = fake_stripe.payout_object(fake_stripe.transfers[paid.stripe_transfer_id], status="paid")
    response = _post(fake_stripe, "payout.paid", obj, account=paid.destination)

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False, "outcome": "confirmed"}
    paid.refresh_from_db()
    assert (paid.status, paid.stripe_payout_status, paid.stripe_payout_id) == ("paid", "paid", obj["id"])
    event = StripeEvent.objects.get()
    assert (event.type, event.payout_id, event.account) == ("payout.paid", paid.pk, paid.destination)


def test_a_paid_payout_turning_failed_returns_the_money_once(
    fake_stripe: FakeStripe, paid: Payout, payout_user: Any
) -> None:
    transfer = fake_stripe.transfers[paid.stripe_transfer_id]
    obj = fake_stripe.payout_object(transfer, status="failed", failure_code="account_closed")
    body, headers, event = fake_stripe.build_event("payout.failed", obj, account=paid.destination)

    first = APIClient().post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"]
    )
    again = APIClient().post(
        URL, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"]
    )

    assert first.json()["outcome"] == "returned"
    assert again.json() == {"received": True, "duplicate": True, "outcome": "duplicate"}
    paid.refresh_from_db()
    assert (paid.status, paid.failure_code, paid.failed_after_paid) == ("failed", "account_closed", True)
    assert wallet(payout_user) == 100_000
    assert ledger_keys(paid) == sorted(
        f"payout:{paid.pk}:{suffix}" for suffix in ("hold", "paid", "paid:reverse", "reverse")
    )
    assert system_balance("payout_clearing") == 0 and system_balance("bank_clearing") == -100_000
    assert Payee.objects.get(user=payout_user).status == Payee.Status.FLAGGED
    assert StripeEvent.objects.filter(event_id=event["id"]).count() == 1
    assert_books_clean()

    # The platform pulls the money back from the connected account.
    assert paid.transfer_reversal_pending
    assert payouts_sweep()["reversals"] == {paid.pk: "reversed"}  # the periodic sweep asks Stripe
    assert payout_transfer_reversal_push(payout_id=paid.pk) == "nothing_to_do"
    assert fake_stripe.transfers[paid.stripe_transfer_id]["reversed"] is True
    paid.refresh_from_db()
    assert not paid.transfer_reversal_pending and paid.stripe_reversal_id.startswith("trr_")

    # Stripe's transfer.reversed that follows changes no money.
    reversed_event = _post(fake_stripe, "transfer.reversed", fake_stripe.transfers[paid.stripe_transfer_id])
    assert reversed_event.json()["outcome"] in ("reversal_confirmed", "already_closed")
    assert wallet(payout_user) == 100_000
    assert_books_clean()


def test_money_that_comes_back_pays_a_receivable_first(fake_stripe: FakeStripe, paid: Payout, payout_user: Any) -> None:
    from django.db import transaction

    with transaction.atomic():
        owed = receivable_for(user_id=payout_user.pk, currency="USD")
        house = system_account(kind=Account.Kind.HOUSE, currency="USD")
        entries_post(
            [Entry(key="test:debt", kind="test", lines=[Line(owed.pk, -2_000, "USD"), Line(house.pk, 2_000, "USD")])]
        )

    response = _post(
        fake_stripe,
        "transfer.reversed",
        {**fake_stripe.transfers[paid.stripe_transfer_id], "amount_reversed": 5_000, "reversed": True},
    )

    assert response.json()["outcome"] == "returned"
    assert receivable(payout_user) == 0
    assert wallet(payout_user) == 95_000 + 3_000
    assert Payee.objects.get(user=payout_user).status == Payee.Status.ACTIVE
    assert_books_clean()


def test_a_partial_reversal_is_left_to_an_operator(fake_stripe: FakeStripe, paid: Payout) -> None:
    obj = {**fake_stripe.transfers[paid.stripe_transfer_id], "amount_reversed": 1_000}
    assert _post(fake_stripe, "transfer.reversed", obj).json()["outcome"] == "partial_reversal"
    paid.refresh_from_db()
    assert paid.status == Payout.Status.PAID


def test_payout_failed_for_a_transfer_whose_answer_was_lost(
    fake_stripe: FakeStripe, payout_user: Any, request_payout: Any
) -> None:
    """The run never heard Stripe's answer (payout still queued for retry); Stripe pays out, the bank fails."""
    payout = request_payout(payout_user, 5_000)
    Payout.objects.filter(pk=payout.pk).update(attempts=1, last_error_code="timeout")
    obj = {
        "id": "po_lost",
        "object": "payout",
        "amount": 5_000,
        "currency": "usd",
        "status": "failed",
        "failure_code": "no_account",
        "metadata": {"payout_id": str(payout.pk)},
    }
    assert _post(fake_stripe, "payout.failed", obj).json()["outcome"] == "returned"
    payout.refresh_from_db()
    assert payout.status == Payout.Status.FAILED and payout.failed_after_paid
    assert wallet(payout_user) == 100_000
    assert Transaction.objects.filter(idempotency_key=f"payout:{payout.pk}:paid").exists()
    assert_books_clean()


def test_unknown_and_unmatched_events_are_kept_and_acknowledged(fake_stripe: FakeStripe) -> None:
    assert _post(fake_stripe, "charge.succeeded", {"id": "ch_1"}).json()["outcome"] == "ignored"
    unmatched = _post(fake_stripe, "payout.paid", {"id": "po_x", "object": "payout", "metadata": {}})
    assert unmatched.status_code == 200 and unmatched.json()["outcome"] == "unmatched"
    assert StripeEvent.objects.count() == 2


def test_webhooks_are_off_without_a_secret(settings: Any, fake_stripe: FakeStripe) -> None:
    settings.STRIPE_WEBHOOK_SECRET = ""
    response = _post(fake_stripe, "payout.paid", {"id": "po_x"})
    assert response.status_code == 503


@pytest.mark.django_db(transaction=True)
def test_the_fake_delivers_signed_webhooks_over_http(
    live_server: Any, eager_tasks: None, fake_stripe: FakeStripe, payout_user: Any, request_payout: Any, run: Any
) -> None:
    payout = request_payout(payout_user, 5_000)
    run()
    payout.refresh_from_db()
    fake_stripe.webhook_url = f"{live_server.url}{URL}"
    transfer = fake_stripe.transfers[payout.stripe_transfer_id]

    status = fake_stripe.send_event(
        "payout.failed", fake_stripe.payout_object(transfer, status="failed", failure_code="account_frozen")
    )

    assert status == 200
    payout.refresh_from_db()
    assert payout.status == Payout.Status.FAILED
    assert wallet(payout_user) == 100_000
    # After commit, the transfer reversal task ran and pulled the money back at Stripe.
    assert fake_stripe.transfers[payout.stripe_transfer_id]["reversed"] is True
    assert not payout.transfer_reversal_pending
    assert_books_clean()
