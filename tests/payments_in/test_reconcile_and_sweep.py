"""The sweep's recoveries, operators' actions, and `manage.py reconcile_payments`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from ledger.models import Transaction
from payments.models import BankTransaction, TopUp
from payments.topup.services import topup_create, topup_finish, topup_query, topup_refund, topup_send
from payments.topup.sweep import topup_sweep
from tests.payments_in.conftest import books_balance, clearing, signed_deposit, wallet

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
FUNDED = 10_000_000


def hold(user: Any, phone: str = "+2348031230000", key: str = "k", amount: int = 100_000) -> TopUp:
    return topup_create(user_id=user.pk, phone=phone, carrier="airtel", kind="data", amount=amount, client_key=key)


@pytest.fixture(autouse=True)
def _clock(time_machine: Any) -> None:
    time_machine.move_to(START, tick=False)


def reconcile_output(*args: str) -> tuple[str, bool]:
    out = StringIO()
    try:
        call_command("reconcile_payments", *args, stdout=out)
    except CommandError:
        return out.getvalue(), False
    return out.getvalue(), True


def test_a_hold_never_sent_is_refunded_by_the_sweep_and_then_cannot_be_sent(
    ng_user: Any, selcom: Any, time_machine: Any
) -> None:
    topup = hold(ng_user)  # the process died before sending
    assert topup_sweep().refunded_unsent == []  # young: maybe about to be sent

    time_machine.move_to(START + timedelta(seconds=61), tick=False)
    assert topup_sweep().refunded_unsent == [topup.pk]

    assert topup_send(topup_id=topup.pk).status == "failed"  # the late send finds nothing to send
    assert selcom.get("/_fake/transactions") == {}
    assert wallet(ng_user) == FUNDED
    assert TopUp.objects.get(pk=topup.pk).failure_code == "not_sent"
    books_balance()


def test_the_sweep_never_refunds_a_hold_a_late_send_has_just_claimed(
    ng_user: Any, selcom: Any, time_machine: Any
) -> None:
    topup = hold(ng_user)
    time_machine.move_to(START + timedelta(seconds=61), tick=False)
    # The API process woke up late and claimed the send just before the sweep locked the row.
    TopUp.objects.filter(pk=topup.pk, status="held").update(
        status="sending", submitted_at=START + timedelta(seconds=61)
    )

    report = topup_sweep()

    assert report.refunded_unsent == [] and report.recovered_sending == []
    # Had the sweep listed the row while it was still held, the refund decides under the lock:
    late = topup_finish(
        topup_id=topup.pk,
        succeeded=False,
        result=None,
        event_kind="sweep",
        failure_code="not_sent",
        only_from=frozenset({"held"}),
    )
    assert late.status == "sending"

    assert TopUp.objects.get(pk=topup.pk).status == "sending"
    assert wallet(ng_user) == FUNDED - 100_000
    with pytest.raises(Exception, match="in flight"):
        topup_refund(topup_id=topup.pk, operator="ops")
    assert not Transaction.objects.filter(idempotency_key=f"topup:{topup.pk}:refund").exists()
    books_balance()


def test_a_send_whose_answer_was_lost_is_queried_not_resent(ng_user: Any, selcom: Any, time_machine: Any) -> None:
    topup = hold(ng_user)
    # The worker died after claiming the send (and maybe sending): simulate the claimed state.
    TopUp.objects.filter(pk=topup.pk).update(status="sending", submitted_at=START)

    time_machine.move_to(START + timedelta(seconds=60), tick=False)
    assert topup_sweep().recovered_sending == []  # within the timeout and grace
    time_machine.move_to(START + timedelta(seconds=76), tick=False)
    report = topup_sweep()
    assert report.recovered_sending == [topup.pk]
    assert report.due == []
    assert TopUp.objects.get(pk=topup.pk).next_attempt_at == START + timedelta(seconds=180)

    time_machine.move_to(START + timedelta(seconds=181), tick=False)
    [due] = topup_sweep().due
    done = topup_query(topup_id=due)

    # Nothing reached the fake, so it has no such transaction: a failure, refunded; never resent.
    assert done.status == "failed"
    assert selcom.get("/_fake/transactions") == {}
    assert wallet(ng_user) == FUNDED
    books_balance()


def test_operator_refund_of_an_unresolved_top_up(ng_user: Any, selcom: Any) -> None:
    topup = topup_send(topup_id=hold(ng_user, "+2348031230005").pk)
    assert topup.status == "processing"

    refunded = topup_refund(topup_id=topup.pk, operator="ops", reason="stuck")

    assert refunded.status == "failed" and refunded.failure_code == "refunded_by_operator"
    assert wallet(ng_user) == FUNDED
    with pytest.raises(Exception, match="already failed"):
        topup_refund(topup_id=topup.pk, operator="ops")
    assert Transaction.objects.filter(idempotency_key=f"topup:{topup.pk}:refund").count() == 1
    books_balance()


def test_admin_actions_query_now_and_refund(ng_user: Any, staff: Any, selcom: Any) -> None:
    from django.test import Client

    staff.is_superuser = True
    staff.save()
    admin = Client()
    admin.force_login(staff)
    settles = topup_send(topup_id=hold(ng_user, "+2348031230002", key="a").pk)  # query says success
    stuck = topup_send(topup_id=hold(ng_user, "+2348031230005", key="b").pk)  # ambiguous for ever
    assert (settles.status, stuck.status) == ("processing", "processing")

    listing = admin.get("/admin/payments/topup/?status__exact=processing&age=5m")
    assert listing.status_code == 200 and settles.transid in listing.content.decode()
    admin.post("/admin/payments/topup/", {"action": "query_now", "_selected_action": [settles.pk, stuck.pk]})
    assert TopUp.objects.get(pk=settles.pk).status == "succeeded"
    assert TopUp.objects.get(pk=stuck.pk).status == "processing"

    admin.post("/admin/payments/topup/", {"action": "refund", "_selected_action": [settles.pk, stuck.pk]})
    assert TopUp.objects.get(pk=settles.pk).status == "succeeded"  # final: untouched
    assert TopUp.objects.get(pk=stuck.pk).status == "failed"
    assert wallet(ng_user) == FUNDED - 100_000
    assert admin.get(f"/admin/payments/topup/{stuck.pk}/change/").status_code == 200
    books_balance()


def test_reconcile_is_clean_when_all_agree(ng_user: Any, selcom: Any, wema: Any, api: Any) -> None:
    topup_send(topup_id=hold(ng_user, key="ok").pk)
    topup_send(topup_id=hold(ng_user, "+2348031230001", key="no").pk)

    output, clean = reconcile_output()

    assert clean, output
    assert "no differences" in output


def test_reconcile_lists_what_the_provider_settled_and_resolves_it(
    ng_user: Any, selcom: Any, time_machine: Any
) -> None:
    settled = topup_send(topup_id=hold(ng_user, "+2348031230002", key="a").pk)
    waiting = topup_send(topup_id=hold(ng_user, "+2348031230005", key="b").pk)
    time_machine.move_to(START + timedelta(seconds=400), tick=False)

    output, clean = reconcile_output()

    assert not clean
    assert f"top-up {settled.pk} {settled.transid}" in output and "success (000)" in output
    assert f"top-up {waiting.pk}" in output and "unresolved past the SLA" in output
    assert TopUp.objects.get(pk=settled.pk).status == "processing"  # listing changes nothing

    output, clean = reconcile_output("--resolve")
    assert "resolved: now succeeded" in output
    assert not clean  # the ambiguous one still needs an operator
    assert TopUp.objects.get(pk=settled.pk).status == "succeeded"
    assert selcom.get("/_fake/transactions")[settled.transid]["process_calls"] == 1


def test_reconcile_finds_a_bank_transaction_the_ledger_does_not_match(ng_user: Any, wema: Any, api: Any) -> None:
    from payments.treasury.services import virtual_account_create

    account, _ = virtual_account_create(
        user_id=ng_user.pk, bvn="22222222222", first_name="A", last_name="B", phone="+2348012345678", email="a@b.co"
    )
    raw, signature = signed_deposit(account_number=account.account_number, amount=100, reference="R1")
    api.post("/api/treasury/webhook", raw, content_type="application/json", HTTP_X_WEMA_SIGNATURE=signature)
    assert reconcile_output()[1]

    BankTransaction.objects.update(amount=20_000)  # a record that no longer says what was credited

    output, clean = reconcile_output()
    assert not clean
    assert "not credited by its amount" in output and "wema:R1" in output


def test_clearing_matches_open_and_succeeded_top_ups(ng_user: Any, selcom: Any) -> None:
    topup_send(topup_id=hold(ng_user, key="1").pk)  # succeeds
    topup_send(topup_id=hold(ng_user, "+2348031230001", key="2").pk)  # fails, refunded
    topup_send(topup_id=hold(ng_user, "+2348031230005", key="3").pk)  # processing, young
    assert clearing("topup_clearing") == 200_000
    assert reconcile_output()[1]
