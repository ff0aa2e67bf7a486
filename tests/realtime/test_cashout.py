"""Cashout through REST and the services: offers priced by the server, accepted or refused, and
the money moved exactly once, per RULES.md "Cashout"."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from betting.models import BetSlip, Selection
from betting.services import event_result_record
from betting.services.limits import liability_of
from ledger.models import Posting, Transaction
from ledger.reconcile import reconcile
from ledger.services import system_account
from realtime.cashout.models import CashoutOffer
from realtime.cashout.services import CashoutError, cashout_offer_accept, cashout_offer_create, cashout_offers_expire
from realtime.models import OutboxEvent
from tests.realtime.slips import home_of, home_wins, match, place, reprice, suspend, wallet_balance

pytestmark = pytest.mark.django_db

STAKE = 10_000  # NGN 100.00 on a single at 1.90: potential payout 19,000


@pytest.fixture
def player(user: Any, fund: Any) -> Any:
    fund(user, 100_000, "NGN")
    return user


@pytest.fixture
def slip(player: Any) -> BetSlip:
    return place(player, [home_of(match())], stake=STAKE)


def offer_via_api(client: APIClient, slip_id: int, body: dict[str, Any] | None = None) -> Any:
    return client.post(f"/api/bets/{slip_id}/cashout-offers", body or {}, format="json")


def accept_via_api(client: APIClient, offer_id: int, body: dict[str, Any] | None = None, key: str = "") -> Any:
    return client.post(
        f"/api/cashout-offers/{offer_id}/accept",
        body or {},
        format="json",
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def events_of(user: Any, type_: str) -> list[dict[str, Any]]:
    return list(OutboxEvent.objects.filter(user_id=user.pk, type=type_).order_by("seq").values_list("data", flat=True))


def ledger_lines(key: str) -> dict[str, int]:
    tx = Transaction.objects.get(idempotency_key=key)
    return {p.account.kind: p.amount for p in Posting.objects.filter(transaction=tx).select_related("account")}


def cashout_lines(offer_id: int) -> dict[str, int]:
    return ledger_lines(f"cashout:{offer_id}")


def test_full_cashout_pays_the_offer_once_through_rest(auth_api: APIClient, player: Any, slip: BetSlip) -> None:
    reprice(home_of(slip.legs.get().event), "1.5000")  # value 10,000 * 1.9 / 1.5, less 5 %
    before = wallet_balance(player)

    response = offer_via_api(auth_api, slip.pk)
    assert response.status_code == 201, response.json()
    offer = response.json()
    assert (offer["amount"]["amount"], offer["fraction"], offer["status"]) == (12_033, "1.0000", "offered")
    assert offer["amount"]["display"] == "NGN 120.33"

    key = uuid.uuid4().hex
    accepted = accept_via_api(auth_api, offer["id"], key=key)
    assert accepted.status_code == 200, accepted.json()
    body = accepted.json()
    assert body["offer"]["status"] == "accepted"
    assert (body["slip"]["status"], body["slip"]["payout"]["amount"]) == ("cashed_out", 12_033)

    # The same request again replays; nothing is paid twice.
    assert accept_via_api(auth_api, offer["id"], key=key).json() == body
    assert wallet_balance(player) == before + 12_033
    # Escrow gives back the stake, the house pays what is above it.
    assert cashout_lines(offer["id"]) == {"bets_escrow": -10_000, "house": -2_033, "wallet": 12_033}
    assert liability_of(slip.legs.get().selection_id, "NGN") == 0
    assert [e["offer"] for e in events_of(player, "cashout.offered")] == [offer["id"]]
    assert [(e["offer"], e["status"]) for e in events_of(player, "cashout.success")] == [(offer["id"], "cashed_out")]
    assert events_of(player, "bet.updated")[-1]["status"] == "cashed_out"
    assert events_of(player, "balance.updated")[-1] == {
        "currency": "NGN",
        "reason": "cashout",
        "transaction": body["transaction"],
        "amount": 12_033,
    }
    # The slip is gone from cashout for good.
    assert offer_via_api(auth_api, slip.pk).json()["error"]["code"] == "slip_not_pending"
    assert reconcile().clean


def test_an_offer_below_the_stake_keeps_the_rest_for_the_house(player: Any, slip: BetSlip) -> None:
    reprice(home_of(slip.legs.get().event), "3.0000")  # value 6,333.33, offer 6,016
    offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk).offer
    cashout_offer_accept(user_id=player.pk, offer_id=offer.pk)
    assert offer.amount == 6_016
    assert cashout_lines(offer.pk) == {"bets_escrow": -10_000, "house": 3_984, "wallet": 6_016}
    assert reconcile().clean


def test_partial_cashout_leaves_the_slip_live_on_the_stake_left(player: Any, slip: BetSlip, auth_api: Any) -> None:
    selection = home_of(slip.legs.get().event)
    reprice(selection, "1.5000")
    response = offer_via_api(auth_api, slip.pk, {"fraction": "0.5"})
    assert response.status_code == 201, response.json()
    offer = response.json()
    assert (offer["fraction"], offer["amount"]["amount"], offer["whole_offer"]["amount"]) == ("0.5000", 6_016, 12_033)

    body = accept_via_api(auth_api, offer["id"]).json()
    assert body["slip"] == {
        "id": slip.pk,
        "status": "pending",
        "stake": {"amount": 5_000, "currency": "NGN", "display": "NGN 50.00"},
        "potential_payout": {"amount": 9_500, "currency": "NGN", "display": "NGN 95.00"},
        "payout": None,
    }
    assert cashout_lines(offer["id"]) == {"bets_escrow": -5_000, "house": -1_016, "wallet": 6_016}
    assert liability_of(selection.pk, "NGN") == 9_500 - 5_000
    update = events_of(player, "bet.updated")[-1]
    assert (update["reason"], update["stake"]["amount"], update["potential_payout"]["amount"]) == (
        "cashout.partial",
        5_000,
        9_500,
    )
    # The game is won: the rest of the slip settles on what is left, and the books still balance.
    assert home_wins(selection.market.event_id).settled == 1
    slip.refresh_from_db()
    assert (slip.status, slip.payout) == ("won", 9_500)
    assert ledger_lines(f"bet:settle:{slip.pk}:v1") == {"bets_escrow": -5_000, "house": -4_500, "wallet": 9_500}
    assert reconcile().clean


def test_expired_offer_is_refused_with_a_fresh_one(player: Any, slip: BetSlip, time_machine: Any) -> None:
    time_machine.move_to(timezone.now(), tick=False)
    offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk).offer
    assert offer.expires_at == timezone.now() + timedelta(seconds=30)
    time_machine.shift(30)
    with pytest.raises(CashoutError) as refused:
        cashout_offer_accept(user_id=player.pk, offer_id=offer.pk)
    assert (refused.value.code, refused.value.status_code) == ("offer_expired", 409)
    fresh = refused.value.fresh_offer
    assert fresh is not None and fresh.status == "offered" and fresh.amount == 9_500
    assert refused.value.details["fresh_offer"]["offer"] == fresh.pk
    offer.refresh_from_db()
    assert (offer.status, offer.reason) == ("expired", "offer_expired")
    assert events_of(player, "cashout.error")[-1]["reason"] == "offer_expired"
    assert not Transaction.objects.filter(kind="cashout").exists()
    # The fresh one is good for its own 30 s; the sweep expires what nobody accepted.
    time_machine.shift(29)
    assert cashout_offers_expire() == 0
    time_machine.shift(1)
    assert cashout_offers_expire() == 1
    assert reconcile().clean


def test_a_fallen_price_is_refused_with_a_fresh_offer_and_a_risen_one_pays_the_offer(
    player: Any, slip: BetSlip, auth_api: APIClient
) -> None:
    selection = home_of(slip.legs.get().event)
    offer = offer_via_api(auth_api, slip.pk).json()
    assert offer["amount"]["amount"] == 9_500
    reprice(selection, "2.5000")  # the home side drifts: the slip is worth less
    response = accept_via_api(auth_api, offer["id"])
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "price_changed"
    fresh = error["details"]["fresh_offer"]
    assert fresh["amount"]["amount"] == 7_220 < 9_500
    assert CashoutOffer.objects.get(pk=offer["id"]).status == "refused"

    reprice(selection, "2.4000")  # better for the player than the fresh offer's price
    paid = accept_via_api(auth_api, fresh["offer"]).json()
    assert paid["slip"]["payout"]["amount"] == 7_220  # the offer accepted, never more
    assert reconcile().clean


def test_a_lost_leg_refuses_the_cashout(player: Any) -> None:
    first, second = match(), match()
    slip = place(player, [home_of(first), home_of(second)], stake=STAKE)
    offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk).offer
    # The first game ends 0-1 and settlement grades its selections: the home leg lost.
    event_result_record(event_id=first.pk, status="finished", home_score=0, away_score=1)
    Selection.objects.filter(market__event=first, outcome="home").update(result="lost", status="settled")
    with pytest.raises(CashoutError) as refused:
        cashout_offer_accept(user_id=player.pk, offer_id=offer.pk)
    assert (refused.value.code, refused.value.status_code, refused.value.fresh_offer) == ("leg_lost", 422, None)
    assert CashoutOffer.objects.get(pk=offer.pk).status == "refused"
    with pytest.raises(CashoutError) as again:
        cashout_offer_create(user_id=player.pk, slip_id=slip.pk)
    assert again.value.code == "leg_lost"
    assert not Transaction.objects.filter(kind="cashout").exists()
    assert reconcile().clean


def test_a_won_leg_counts_at_its_odds(player: Any) -> None:
    first, second = match(), match()
    slip = place(player, [home_of(first), home_of(second)], stake=STAKE)  # 1.90 * 1.90
    event_result_record(event_id=first.pk, status="finished", home_score=2, away_score=0)
    Selection.objects.filter(market__event=first, outcome="home").update(result="won", status="settled")
    offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk).offer
    assert offer.amount == 18_050  # 10,000 * 1.9 (won) * 1.9 / 1.9 (pending), less 5 %


def test_a_suspended_market_refuses_the_cashout(player: Any, slip: BetSlip, auth_api: APIClient) -> None:
    offer = offer_via_api(auth_api, slip.pk).json()
    suspend(home_of(slip.legs.get().event))
    response = accept_via_api(auth_api, offer["id"])
    assert (response.status_code, response.json()["error"]["code"]) == (422, "market_suspended")
    response = offer_via_api(auth_api, slip.pk)
    assert (response.status_code, response.json()["error"]["code"]) == (422, "market_suspended")
    assert reconcile().clean


def test_someone_elses_slip_or_offer_is_not_found(player: Any, slip: BetSlip, make_user: Any) -> None:
    offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk).offer
    stranger = APIClient()
    stranger.force_authenticate(make_user())
    response = offer_via_api(stranger, slip.pk)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "slip_not_found")
    response = accept_via_api(stranger, offer.pk)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "offer_not_found")
    assert CashoutOffer.objects.get(pk=offer.pk).status == "offered"


def test_a_client_invented_amount_is_refused(player: Any, slip: BetSlip, auth_api: APIClient) -> None:
    before = wallet_balance(player)
    response = offer_via_api(auth_api, slip.pk, {"amount": 18_999})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "amount_not_accepted")
    assert not CashoutOffer.objects.exists()

    offer = offer_via_api(auth_api, slip.pk).json()
    response = accept_via_api(auth_api, offer["id"], {"amount": 18_999})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "amount_not_accepted")
    assert CashoutOffer.objects.get(pk=offer["id"]).status == "offered"
    assert wallet_balance(player) == before
    assert not Transaction.objects.filter(kind="cashout").exists()
    assert reconcile().clean


def test_bad_fractions_are_refused(auth_api: APIClient, slip: BetSlip) -> None:
    for fraction in ("0", "1.5", "-0.2", "abc", "0.00001"):
        response = offer_via_api(auth_api, slip.pk, {"fraction": fraction})
        assert response.status_code == 400, fraction
    response = offer_via_api(auth_api, slip.pk, {"fraction": "0.9999"})
    assert response.status_code == 201  # 1 unit of stake left on the slip
    assert not Transaction.objects.filter(kind="cashout").exists()


def test_a_new_offer_supersedes_the_open_one(player: Any, slip: BetSlip) -> None:
    first = cashout_offer_create(user_id=player.pk, slip_id=slip.pk).offer
    second = cashout_offer_create(user_id=player.pk, slip_id=slip.pk, fraction=Decimal("0.25")).offer
    first.refresh_from_db()
    assert (first.status, second.status) == ("superseded", "offered")
    with pytest.raises(CashoutError) as refused:
        cashout_offer_accept(user_id=player.pk, offer_id=first.pk)
    assert refused.value.code == "offer_not_open"


def test_a_settled_slip_refuses_its_open_offer(player: Any, slip: BetSlip) -> None:
    offer = cashout_offer_create(user_id=player.pk, slip_id=slip.pk).offer
    assert home_wins(slip.legs.get().event_id).settled == 1
    with pytest.raises(CashoutError) as refused:
        cashout_offer_accept(user_id=player.pk, offer_id=offer.pk)
    assert (refused.value.code, refused.value.status_code) == ("slip_not_pending", 409)
    assert CashoutOffer.objects.get(pk=offer.pk).status == "refused"
    escrow = system_account(kind="bets_escrow", currency="NGN")
    assert not Posting.objects.filter(account=escrow, transaction__kind="cashout").exists()
    assert reconcile().clean
