"""The Stripe adapter against the fake: replays, idempotency errors, classification, where it points."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from payments.payouts.stripe_adapter import Outcome, api_base, transfer_create
from tests.fakes.stripe import FakeStripe

pytestmark = pytest.mark.django_db


def _send(amount: int = 5_000, payout_id: int = 41) -> Any:
    return transfer_create(payout_id=payout_id, user_id=7, amount=amount, currency="USD", destination="acct_1Adapter")


def test_the_same_key_and_parameters_replay_the_first_transfer(fake_stripe: FakeStripe) -> None:
    first, second = _send(), _send()
    assert (first.outcome, second.outcome) == (Outcome.PAID, Outcome.PAID)
    assert first.transfer_id == second.transfer_id and second.replayed and not first.replayed
    assert len(fake_stripe.transfers) == 1


def test_the_same_key_with_other_parameters_is_held_for_review(fake_stripe: FakeStripe) -> None:
    _send()
    clash = _send(amount=6_000)
    assert (clash.outcome, clash.code, clash.http_status) == (Outcome.UNKNOWN, "idempotency_error", 400)


def test_a_refused_key_is_a_system_problem_not_a_payee_one(fake_stripe: FakeStripe) -> None:
    fake_stripe.script("acct_1Adapter", "unauthorized")
    result = _send()
    assert (result.outcome, result.code) == (Outcome.SYSTEM, "authentication_error")
    assert not result.flags_payee


def test_a_permanent_code_flags_and_a_retryable_one_does_not(fake_stripe: FakeStripe) -> None:
    fake_stripe.script("acct_1Adapter", "decline:invalid_account_number", "rate_limit")
    declined = _send(payout_id=1)
    limited = _send(payout_id=2)
    assert (declined.outcome, declined.flags_payee) == (Outcome.DECLINED, True)
    assert (limited.outcome, limited.code, limited.flags_payee) == (Outcome.TRANSIENT, "rate_limit", False)


def test_no_call_inside_a_transaction(fake_stripe: FakeStripe) -> None:
    with pytest.raises(RuntimeError, match="inside a database transaction"), transaction.atomic():
        _send()
    assert fake_stripe.requests == []


def test_where_the_adapter_points(settings: Any) -> None:
    from config.settings import fake_url

    settings.STRIPE_API_BASE = ""
    settings.STRIPE_SECRET_KEY = ""
    assert api_base() == fake_url(4)
    settings.STRIPE_SECRET_KEY = "sk_test_abc"
    assert api_base() == fake_url(4)
    settings.STRIPE_SECRET_KEY = "sk_live_abc"
    assert api_base() == "https://api.stripe.com"
    settings.STRIPE_API_BASE = "http://127.0.0.1:1"
    assert api_base() == "http://127.0.0.1:1"
