"""Every outcome of a top-up, through the API, against the local fake Selcom.

After each: the user's money is right, the ledger reconciles, and the fake saw the payment
request exactly once (never resent), whatever queries followed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.models import Transaction
from payments.models import TopUp
from payments.topup.services import topup_query
from payments.topup.sweep import topup_sweep
from tests.payments_in.conftest import books_balance, clearing, wallet

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
FUNDED = 10_000_000
AMOUNT = 150_000  # NGN 1,500.00


def buy(api: Any, phone: str, *, amount: int = AMOUNT, key: str | None = None, carrier: str = "mtn") -> Any:
    return api.post(
        "/api/topup",
        {"phone": phone, "carrier": carrier, "amount": amount, "type": "airtime"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key or f"key-{phone}-{amount}",
    )


def sent_once(selcom: Any, topup_id: int) -> dict[str, Any]:
    seen = selcom.get("/_fake/transactions")[TopUp.objects.get(pk=topup_id).transid]
    assert seen["process_calls"] == 1
    return seen


def run_due_queries() -> list[TopUp]:
    return [topup_query(topup_id=topup_id) for topup_id in topup_sweep().due]


@pytest.fixture
def client(api: Any, ng_user: Any, selcom: Any, time_machine: Any) -> Any:
    time_machine.move_to(START, tick=False)
    api.force_authenticate(ng_user)
    return api


def test_success_completes_and_keeps_the_amount_in_clearing(client: Any, ng_user: Any, selcom: Any) -> None:
    response = buy(client, "+2348031230000")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "succeeded"
    assert body["amount"] == {"amount": AMOUNT, "currency": "NGN", "display": "NGN 1,500.00"}
    assert body["provider_reference"].startswith("SEL")
    assert wallet(ng_user) == FUNDED - AMOUNT
    assert clearing("topup_clearing") == AMOUNT  # what we owe Selcom for airtime delivered
    topup = TopUp.objects.get(pk=body["id"])
    assert topup.refund_transaction_id is None
    assert Transaction.objects.get(pk=topup.hold_transaction_id).idempotency_key == f"topup:{topup.pk}:hold"
    seen = sent_once(selcom, topup.pk)
    assert seen["amount"] == 1500 and seen["msisdn"] == "2348031230000" and seen["utilitycode"] == "TOP"
    books_balance()


def test_fail_refunds_at_once(client: Any, ng_user: Any, selcom: Any) -> None:
    response = buy(client, "+2348031230001")

    body = response.json()
    assert response.status_code == 201
    assert body["status"] == "failed"
    assert body["failure_code"] == "provider_declined"
    assert body["result_code"] == "051"
    assert wallet(ng_user) == FUNDED
    assert clearing("topup_clearing") == 0
    topup = TopUp.objects.get(pk=body["id"])
    refund = Transaction.objects.get(pk=topup.refund_transaction_id)
    assert refund.idempotency_key == f"topup:{topup.pk}:refund"
    assert refund.reverses_id == topup.hold_transaction_id
    sent_once(selcom, topup.pk)
    books_balance()


def test_in_progress_is_queried_after_three_minutes_then_succeeds(
    client: Any, ng_user: Any, selcom: Any, time_machine: Any
) -> None:
    body = buy(client, "+2348031230002").json()
    assert body["status"] == "processing"
    topup = TopUp.objects.get(pk=body["id"])
    assert topup.next_attempt_at == START + timedelta(seconds=180)
    assert wallet(ng_user) == FUNDED - AMOUNT  # held while unresolved

    time_machine.move_to(START + timedelta(seconds=179), tick=False)
    assert topup_sweep().due == []  # not before Selcom's 3 minutes
    assert topup_query(topup_id=topup.pk).status == "processing"
    assert selcom.get("/_fake/transactions")[topup.transid]["query_calls"] == 0

    time_machine.move_to(START + timedelta(seconds=181), tick=False)
    [done] = run_due_queries()
    assert done.status == "succeeded"
    assert done.queries == 1
    assert wallet(ng_user) == FUNDED - AMOUNT
    assert clearing("topup_clearing") == AMOUNT
    assert sent_once(selcom, topup.pk)["query_calls"] == 1
    books_balance()


def test_in_progress_then_fail_refunds(client: Any, ng_user: Any, selcom: Any, time_machine: Any) -> None:
    body = buy(client, "+2348031230003").json()
    assert body["status"] == "processing"

    time_machine.move_to(START + timedelta(seconds=181), tick=False)
    [done] = run_due_queries()

    assert done.status == "failed"
    assert done.failure_code == "provider_declined"
    assert wallet(ng_user) == FUNDED
    assert clearing("topup_clearing") == 0
    sent_once(selcom, done.pk)
    books_balance()


def test_queries_repeat_every_three_minutes_until_settled(
    client: Any, ng_user: Any, selcom: Any, time_machine: Any
) -> None:
    topup_id = buy(client, "+2348031230008").json()["id"]  # in progress twice, then success

    time_machine.move_to(START + timedelta(seconds=181), tick=False)
    [first] = run_due_queries()
    assert first.status == "processing"
    assert first.next_attempt_at == START + timedelta(seconds=181 + 180)

    time_machine.move_to(START + timedelta(seconds=300), tick=False)
    assert topup_sweep().due == []
    time_machine.move_to(START + timedelta(seconds=362), tick=False)
    [second] = run_due_queries()

    assert second.status == "succeeded"
    assert sent_once(selcom, topup_id)["query_calls"] == 2
    assert wallet(ng_user) == FUNDED - AMOUNT
    books_balance()


def test_ambiguous_is_resolved_by_query(client: Any, ng_user: Any, selcom: Any, time_machine: Any) -> None:
    body = buy(client, "+2348031230004").json()
    assert body["status"] == "processing"
    assert body["result_code"] == "999"

    time_machine.move_to(START + timedelta(seconds=181), tick=False)
    [done] = run_due_queries()

    assert done.status == "succeeded"
    sent_once(selcom, done.pk)
    assert wallet(ng_user) == FUNDED - AMOUNT
    books_balance()


def test_unresolved_past_the_sla_is_flagged_and_still_resolved_by_the_next_query(
    client: Any, ng_user: Any, selcom: Any, time_machine: Any
) -> None:
    topup_id = buy(client, "+2348031230005").json()["id"]  # ambiguous for ever, until re-scripted

    time_machine.move_to(START + timedelta(seconds=181), tick=False)
    [still] = run_due_queries()
    assert still.status == "processing" and still.flagged_at is None

    time_machine.move_to(START + timedelta(seconds=301), tick=False)
    report = topup_sweep()
    assert report.flagged == [topup_id]
    assert report.due == []
    flagged = TopUp.objects.get(pk=topup_id)
    assert flagged.flagged_at == START + timedelta(seconds=301)
    assert topup_sweep().flagged == []  # flagged once

    # Selcom settles it at last: the next scheduled query (6 minutes) picks it up.
    selcom.post("/_fake/script", {"msisdn": "2348031230005", "process": "999", "queries": ["000"]})
    time_machine.move_to(START + timedelta(seconds=362), tick=False)
    [done] = run_due_queries()

    assert done.status == "succeeded"
    assert done.flagged_at is not None  # the record keeps the breach
    sent_once(selcom, topup_id)
    assert client.get(f"/api/topup/{topup_id}").json()["flagged"] is True
    books_balance()


def test_timeout_on_the_first_call_is_queried_not_resent(
    client: Any, ng_user: Any, selcom: Any, time_machine: Any, settings: Any
) -> None:
    settings.SELCOM_TIMEOUT_S = 0.5
    body = buy(client, "+2348031230006").json()  # answers after 1.5 s; we wait 0.5 s

    assert body["status"] == "processing"
    assert body["result_code"] == ""
    assert wallet(ng_user) == FUNDED - AMOUNT

    time_machine.move_to(START + timedelta(seconds=181), tick=False)
    [done] = run_due_queries()

    assert done.status == "succeeded"
    seen = sent_once(selcom, done.pk)
    assert seen["query_calls"] == 1
    assert wallet(ng_user) == FUNDED - AMOUNT
    books_balance()


def test_provider_unreachable_refunds_and_answers_503(
    client: Any, ng_user: Any, settings: Any, closed_port_url: str
) -> None:
    settings.SELCOM_BASE_URL = closed_port_url

    response = buy(client, "+2348031230000")

    assert response.status_code == 503
    error = response.json()["error"]
    assert error["code"] == "provider_unavailable"
    assert error["details"]["refunded"] is True
    topup = TopUp.objects.get(pk=error["details"]["topup"])
    assert topup.status == "failed" and topup.failure_code == "provider_unavailable"
    assert wallet(ng_user) == FUNDED
    assert clearing("topup_clearing") == 0
    books_balance()

    # The same key again is the same (failed) attempt: still 503, nothing new held.
    again = buy(client, "+2348031230000")
    assert again.status_code == 503
    assert TopUp.objects.count() == 1
    assert wallet(ng_user) == FUNDED


def test_provider_answering_503_is_queried_then_refunded(
    client: Any, ng_user: Any, selcom: Any, time_machine: Any
) -> None:
    body = buy(client, "+2348031230007").json()  # the gateway says 503: the payment may or may not exist

    assert body["status"] == "processing"
    assert wallet(ng_user) == FUNDED - AMOUNT

    time_machine.move_to(START + timedelta(seconds=181), tick=False)
    [done] = run_due_queries()  # Selcom has no such transaction

    assert done.status == "failed"
    assert wallet(ng_user) == FUNDED
    books_balance()


def test_same_key_replays_without_a_second_payment(client: Any, ng_user: Any, selcom: Any) -> None:
    first = buy(client, "+2348031230000", key="same")
    second = buy(client, "+2348031230000", key="same")
    other = buy(client, "+2348031230000", amount=200_000, key="same")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert other.status_code == 409
    assert TopUp.objects.count() == 1
    sent_once(selcom, first.json()["id"])
    assert wallet(ng_user) == FUNDED - AMOUNT


def test_short_wallet_is_refused_and_nothing_is_held(api: Any, make_user: Any, fund: Any, selcom: Any) -> None:
    poor = make_user(currency="NGN")
    fund(poor, 100_000, "NGN")
    api.force_authenticate(poor)

    response = buy(api, "+2348031230000", amount=150_000)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert TopUp.objects.count() == 0
    assert wallet(poor) == 100_000
    assert selcom.get("/_fake/transactions") == {}
    books_balance()


def test_daily_limit(client: Any, ng_user: Any, selcom: Any, settings: Any) -> None:
    settings.TOPUP_DAILY_LIMIT = 300_000
    assert buy(client, "+2348031230000", amount=200_000, key="a").status_code == 201
    assert buy(client, "+2348031230001", amount=100_000, key="b").status_code == 201  # fails: not counted

    refused = buy(client, "+2348031230000", amount=200_000, key="c")

    assert refused.status_code == 422
    assert refused.json()["error"]["code"] == "topup_daily_limit"
    assert buy(client, "+2348031230000", amount=100_000, key="d").status_code == 201
    assert wallet(ng_user) == FUNDED - 300_000


def test_list_and_detail_are_the_users_own(client: Any, ng_user: Any, selcom: Any, make_user: Any, api: Any) -> None:
    mine = buy(client, "+2348031230000").json()
    buy(client, "+2348031230001", key="second")

    listed = client.get("/api/topup").json()
    assert [row["id"] for row in listed["results"]] == [mine["id"] + 1, mine["id"]]
    assert client.get(f"/api/topup/{mine['id']}").json()["transid"] == mine["transid"]

    from rest_framework.test import APIClient

    stranger = APIClient()
    stranger.force_authenticate(make_user())
    assert stranger.get(f"/api/topup/{mine['id']}").status_code == 404
    assert stranger.get("/api/topup").json()["results"] == []
