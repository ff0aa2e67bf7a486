"""Placing bets: the API, the lock time, idempotency, and what moves in the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from betting.models import Round, RoundBet
from betting.rounds.services import round_lock, round_open
from ledger.models import Transaction
from ledger.reconcile import reconcile
from realtime.models import OutboxEvent
from tests.rounds.conftest import ny
from tests.rounds.helpers import balance, bet, wallet

pytestmark = pytest.mark.django_db


@pytest.fixture
def monday(clock: Callable[..., None]) -> Round:
    """Round 20260309 (the Monday after the spring DST change), opened on Saturday."""
    clock(ny(2026, 3, 7, 12))
    return round_open()


def client_for(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def post_bet(client: APIClient, body: dict[str, Any], key: str | None = "k-1") -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/rounds/current/bets", body, format="json", **headers)


def test_bet_moves_the_stake_from_wallet_to_escrow(monday: Round, player: Callable[..., Any]) -> None:
    alice = player(5_000_000)
    response = post_bet(client_for(alice), {"side": "UP", "amount": 1_250_000})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["round"] == "20260309"
    assert body["side"] == "UP" and body["status"] == "pending"
    assert body["amount"] == {"amount": 1_250_000, "currency": "USDC", "display": "USDC 1.250000"}
    assert wallet(alice) == 3_750_000
    assert balance("bets_escrow") == 1_250_000
    placed = RoundBet.objects.get(pk=body["id"])
    tx = Transaction.objects.get(pk=placed.stake_transaction_id)
    assert tx.idempotency_key == f"round:20260309:bet:{placed.pk}"
    assert tx.reference == "round:20260309"
    events = list(OutboxEvent.objects.filter(topic="round:20260309", data__change="bet"))
    assert [(e.type, e.data["side"], e.data["amount"]) for e in events] == [("round.updated", "UP", 1_250_000)]
    assert OutboxEvent.objects.filter(type="balance.updated", user=alice, data__reason="round_bet").count() == 1
    assert reconcile().clean


def test_same_key_replays_and_other_body_conflicts(monday: Round, player: Callable[..., Any]) -> None:
    alice = player(5_000_000)
    client = client_for(alice)
    first = post_bet(client, {"side": "DOWN", "amount": 1_000})
    again = post_bet(client, {"side": "DOWN", "amount": 1_000})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    other = post_bet(client, {"side": "UP", "amount": 1_000})
    assert other.status_code == 409
    assert RoundBet.objects.count() == 1 and wallet(alice) == 4_999_000


def test_service_key_makes_a_repeat_return_the_first_bet(monday: Round, player: Callable[..., Any]) -> None:
    from betting.rounds.services import round_bet_place

    alice = player(5_000)
    first = round_bet_place(user_id=alice.pk, side="UP", amount=10, idempotency_key="cli-1")
    again = round_bet_place(user_id=alice.pk, side="UP", amount=10, idempotency_key="cli-1")
    assert again.pk == first.pk and wallet(alice) == 4_990


@pytest.mark.parametrize(
    "body",
    [
        {"side": "SIDEWAYS", "amount": 100},
        {"side": "UP", "amount": 0},
        {"side": "UP", "amount": -5},
        {"side": "UP", "amount": "100"},
        {"side": "UP", "amount": 100.0},
        {"side": "UP", "amount": 1.5},
        {"side": "UP", "amount": True},
        {"side": "UP"},
        {"amount": 100},
    ],
)
def test_bad_input_is_a_400_and_writes_nothing(monday: Round, player: Callable[..., Any], body: dict[str, Any]) -> None:
    alice = player(5_000)
    before = Transaction.objects.count()
    response = post_bet(client_for(alice), body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert RoundBet.objects.count() == 0 and Transaction.objects.count() == before


def test_idempotency_key_is_required(monday: Round, player: Callable[..., Any]) -> None:
    response = post_bet(client_for(player(5_000)), {"side": "UP", "amount": 1}, key=None)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_required"


def test_anonymous_cannot_bet(monday: Round, api: APIClient) -> None:
    assert post_bet(api, {"side": "UP", "amount": 1}).status_code in (401, 403)


def test_insufficient_funds_is_a_422_and_writes_nothing(monday: Round, player: Callable[..., Any]) -> None:
    alice = player(999)
    before = Transaction.objects.count()
    response = post_bet(client_for(alice), {"side": "UP", "amount": 1_000})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_funds"
    assert RoundBet.objects.count() == 0 and Transaction.objects.count() == before
    assert wallet(alice) == 999


def test_bet_one_second_before_lock_is_accepted_and_at_lock_refused(
    monday: Round, player: Callable[..., Any], clock: Callable[..., None]
) -> None:
    alice = player(5_000)
    client = client_for(alice)
    clock(ny(2026, 3, 9, 15, 59, 58))
    assert post_bet(client, {"side": "UP", "amount": 10}, key="a").status_code == 201
    clock(ny(2026, 3, 9, 15, 59, 59))  # lock time; the lock task has not run, the round is still OPEN
    assert Round.objects.get(pk=monday.pk).status == Round.Status.OPEN
    refused = post_bet(client, {"side": "UP", "amount": 10}, key="b")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "betting_closed"
    assert RoundBet.objects.count() == 1 and wallet(alice) == 4_990


def test_early_close_day_locks_at_12_59_59(player: Callable[..., Any], clock: Callable[..., None]) -> None:
    clock(ny(2026, 11, 27, 9))  # the day after Thanksgiving closes at 13:00
    opened = round_open()
    assert opened.code == "20261127" and opened.early_close
    client = client_for(player(5_000))
    clock(ny(2026, 11, 27, 12, 59, 58))
    assert post_bet(client, {"side": "DOWN", "amount": 10}, key="a").status_code == 201
    clock(ny(2026, 11, 27, 12, 59, 59))
    assert post_bet(client, {"side": "DOWN", "amount": 10}, key="b").json()["error"]["code"] == "betting_closed"


def test_locked_round_refuses_bets(monday: Round, player: Callable[..., Any]) -> None:
    alice = player(5_000)
    round_lock(code=monday.code)
    response = post_bet(client_for(alice), {"side": "UP", "amount": 10})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "round_not_open"
    with pytest.raises(Exception) as err:
        bet(alice, "UP", 10, code=monday.code)
    assert getattr(err.value, "code", None) == "round_not_open"


def test_current_round_shows_times_pools_and_only_my_bets(
    monday: Round, player: Callable[..., Any], api: APIClient
) -> None:
    alice, bob = player(), player()
    bet(alice, "UP", 300)
    bet(alice, "DOWN", 50)
    bet(bob, "DOWN", 700)
    body = client_for(alice).get("/api/rounds/current").json()
    assert body["code"] == "20260309" and body["status"] == "open"
    assert body["times"]["lock_at"] == "2026-03-09T15:59:59-04:00"  # EDT, the day after the change
    assert body["times"]["close_at"] == "2026-03-09T16:00:00-04:00"
    assert body["times"]["settle_at"] == "2026-03-09T16:05:00-04:00"
    assert body["reference"]["date"] == "2026-03-06"
    assert body["pools"]["UP"]["amount"] == 300 and body["pools"]["UP"]["bets"] == 1
    assert body["pools"]["DOWN"]["amount"] == 750 and body["pools"]["DOWN"]["bets"] == 2
    assert body["pools"]["total"]["amount"] == 1_050
    assert sorted((b["side"], b["amount"]["amount"]) for b in body["my_bets"]) == [("DOWN", 50), ("UP", 300)]
    anonymous = api.get("/api/rounds/current").json()
    assert anonymous["my_bets"] is None and anonymous["pools"]["total"]["amount"] == 1_050


def test_round_by_code(monday: Round, api: APIClient) -> None:
    assert api.get("/api/rounds/20260309").json()["code"] == "20260309"
    missing = api.get("/api/rounds/20260310")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "round_not_found"
    assert api.get("/api/rounds/2026-03-09").status_code == 400


def test_no_round_yet(api: APIClient, clock: Callable[..., None]) -> None:
    clock(ny(2026, 3, 7, 12))
    assert api.get("/api/rounds/current").status_code == 404


def test_tvl_counts_wallets_escrow_and_pools(monday: Round, player: Callable[..., Any], api: APIClient) -> None:
    alice = player(1_000_000)
    bet(alice, "UP", 250_000)
    rows = {row["currency"]: row for row in api.get("/api/tvl").json()["currencies"]}
    usdc = rows["USDC"]
    assert usdc["wallets"]["amount"] == 750_000
    assert usdc["escrow"]["amount"] == 250_000
    assert usdc["pools"]["amount"] == 250_000
    assert usdc["total"]["amount"] == 1_000_000
