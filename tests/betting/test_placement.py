"""POST /api/bets: every placement rule, accepted and refused, with the code a front end acts on;
money moves wallet -> escrow with the slip or not at all."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
import time_machine
from django.db import connection
from rest_framework.test import APIClient

from betting.models import BetSlip, DailyStake, Event, Market, Selection, SelectionLiability
from betting.services import event_result_record, market_update, player_limits_set
from core.idempotency import advisory_key
from core.models import IdempotencyRecord
from ledger.models import Account, Transaction
from ledger.reconcile import reconcile
from ledger.selectors import account_balance
from ledger.services import system_account, wallet_for
from realtime.models import OutboxEvent
from tests.betting.conftest import selection_of

pytestmark = pytest.mark.django_db

FUNDS = 10_000_000  # NGN 100,000.00


@pytest.fixture
def player(user: Any, fund: Callable[..., Any]) -> Any:
    fund(user, FUNDS, "NGN")
    return user


@pytest.fixture
def event(make_event: Callable[..., Any]) -> Any:
    return make_event()


def place(api: APIClient, body: dict[str, Any], *, key: str | None = None, query: str = "") -> Any:
    return api.post(f"/api/bets{query}", body, format="json", HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex)


def single(selection: Selection, stake: int = 10_000, odds: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": "single",
        "stake": stake,
        "currency": "NGN",
        "legs": [{"selection": selection.pk, "odds": odds or str(selection.odds)}],
        **extra,
    }


def wallet(user: Any) -> int:
    return wallet_for(user_id=user.pk, currency="NGN").balance


def escrow() -> int:
    return account_balance(system_account(kind=Account.Kind.BETS_ESCROW, currency="NGN"))


def assert_refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.json()
    body = response.json()["error"]
    assert body["code"] == code, body
    return dict(body)


def assert_nothing_placed(user: Any) -> None:
    assert not BetSlip.objects.filter(user=user).exists()
    assert wallet(user) == FUNDS
    assert not SelectionLiability.objects.filter(amount__gt=0).exists()
    assert not DailyStake.objects.filter(user=user, amount__gt=0).exists()


# --- accepted ------------------------------------------------------------------------------


def test_a_single_moves_the_stake_to_escrow_with_the_slip(auth_api: APIClient, player: Any, event: Any) -> None:
    home = selection_of(event, "moneyline", "home")

    response = place(auth_api, single(home, stake=10_000, odds="1.90"))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "pending" and body["type"] == "single" and not body["live"]
    assert body["stake"] == {"amount": 10_000, "currency": "NGN", "display": "NGN 100.00"}
    assert body["potential_payout"]["amount"] == 19_000
    assert body["legs"][0]["selection"] == home.pk and body["legs"][0]["odds_decimal"] == "1.9000"
    slip = BetSlip.objects.get(pk=body["id"])
    assert wallet(player) == FUNDS - 10_000 and escrow() == 10_000
    tx = Transaction.objects.get(idempotency_key=f"bet:place:{slip.pk}")
    assert tx.kind == "bet.place"
    assert SelectionLiability.objects.get(selection=home, currency="NGN").amount == 9_000
    assert DailyStake.objects.get(user=player, currency="NGN").amount == 10_000
    events = list(OutboxEvent.objects.filter(user=player).values_list("type", flat=True))
    assert "bet.placed" in events and "balance.updated" in events
    assert reconcile().clean


def test_a_parlay_multiplies_its_legs(auth_api: APIClient, player: Any, make_event: Callable[..., Any]) -> None:
    a, b = make_event(), make_event()
    legs = [selection_of(a, "1x2", "draw"), selection_of(b, "total", "under")]  # 3.20 and 2.00

    response = place(
        auth_api,
        {
            "type": "parlay",
            "stake": 5_000,
            "currency": "NGN",
            "legs": [{"selection": s.pk, "odds": str(s.odds)} for s in legs],
        },
    )

    assert response.status_code == 201, response.json()
    assert response.json()["potential_payout"]["amount"] == 32_000
    assert response.json()["total_odds"] == "6.4000"
    assert wallet(player) == FUNDS - 5_000


def test_a_system_bet_is_every_k_leg_parlay(auth_api: APIClient, player: Any, make_event: Callable[..., Any]) -> None:
    legs = [selection_of(make_event(), "moneyline", "home") for _ in range(3)]  # 1.90 each

    response = place(
        auth_api,
        {
            "type": "system",
            "system": "2/3",
            "stake": 3_000,
            "currency": "NGN",
            "legs": [{"selection": s.pk, "odds": "1.90"} for s in legs],
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["system"] == "2/3" and body["total_odds"] is None
    assert body["potential_payout"]["amount"] == 3 * 3_610  # three lines of 1,000 at 3.61


def test_fifteen_legs_are_a_parlay(auth_api: APIClient, player: Any, make_event: Callable[..., Any]) -> None:
    legs = [selection_of(make_event(), "moneyline", "home") for _ in range(15)]

    response = place(
        auth_api,
        {
            "type": "parlay",
            "stake": 1_000,
            "currency": "NGN",
            "legs": [{"selection": s.pk, "odds": "1.9"} for s in legs],
        },
    )

    assert response.status_code == 201, response.json()
    assert len(response.json()["legs"]) == 15


def test_odds_policy_better_takes_the_better_price(auth_api: APIClient, player: Any, event: Any) -> None:
    home = selection_of(event, "moneyline", "home")  # 1.90 now

    response = place(auth_api, single(home, odds="1.85"))

    assert response.status_code == 201
    assert response.json()["legs"][0]["odds_decimal"] == "1.9000"


def test_odds_policy_any_takes_any_price(auth_api: APIClient, player: Any, event: Any) -> None:
    home = selection_of(event, "moneyline", "home")

    response = place(auth_api, single(home, odds="5.00", accept_odds="any"))

    assert response.status_code == 201
    assert response.json()["legs"][0]["odds_decimal"] == "1.9000"


def test_odds_shown_as_asked(auth_api: APIClient, player: Any, event: Any) -> None:
    home = selection_of(event, "moneyline", "home")

    body = place(auth_api, single(home), query="?odds_format=fractional").json()

    assert body["legs"][0]["odds"] == "9/10" and body["legs"][0]["odds_decimal"] == "1.9000"


def test_a_placed_slip_reads_the_same_in_its_answer_its_detail_and_the_list(
    auth_api: APIClient, player: Any, make_event: Callable[..., Any]
) -> None:
    a, b = make_event(home="Lions", away="Tigers"), make_event(home="Bears", away="Wolves")
    spread, draw = selection_of(a, "spread", "home"), selection_of(b, "1x2", "draw")  # -0.75 at 1.95; 3.20
    at = datetime(2030, 5, 1, 12, 30, 15, 250_000, tzinfo=UTC)
    Event.objects.filter(pk__in=[a.pk, b.pk]).update(scheduled_start=at + timedelta(hours=2))

    with time_machine.travel(at, tick=False):
        placed = place(
            auth_api,
            {
                "type": "parlay",
                "stake": 5_000,
                "currency": "NGN",
                "legs": [{"selection": spread.pk, "odds": "1.95"}, {"selection": draw.pk, "odds": "3.2"}],
            },
            query="?odds_format=american",
        )

    assert placed.status_code == 201, placed.json()
    slip = placed.json()["id"]
    assert placed.json() == {
        "id": slip,
        "type": "parlay",
        "system": None,
        "status": "pending",
        "stake": {"amount": 5_000, "currency": "NGN", "display": "NGN 50.00"},
        "potential_payout": {"amount": 31_200, "currency": "NGN", "display": "NGN 312.00"},
        "payout": None,
        "total_odds": "+524",
        "accept_odds": "better",
        "live": False,
        "placed_at": "2030-05-01T12:30:15.250000Z",
        "accepted_at": "2030-05-01T12:30:15.250000Z",
        "accept_after": None,
        "settled_at": None,
        "reject_reason": "",
        "legs": [
            {
                "selection": spread.pk,
                "event": a.pk,
                "event_name": "Lions vs Tigers",
                "market": spread.market_id,
                "market_kind": "spread",
                "market_name": spread.market.name,
                "outcome": "home",
                "name": spread.name,
                "line": "-0.75",
                "odds": "-105",
                "odds_decimal": "1.9500",
                "live": False,
                "result": None,
            },
            {
                "selection": draw.pk,
                "event": b.pk,
                "event_name": "Bears vs Wolves",
                "market": draw.market_id,
                "market_kind": "1x2",
                "market_name": draw.market.name,
                "outcome": "draw",
                "name": draw.name,
                "line": None,
                "odds": "+220",
                "odds_decimal": "3.2000",
                "live": False,
                "result": None,
            },
        ],
    }
    assert auth_api.get(f"/api/bets/{slip}?odds_format=american").json() == placed.json()
    assert auth_api.get("/api/bets?odds_format=american").json()["results"] == [placed.json()]


# --- refused: bad input (400, nothing written) ---------------------------------------------


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"stake": "1000"}, "validation_error"),
        ({"stake": 10.5}, "validation_error"),
        ({"type": "lucky15"}, "validation_error"),
        ({"currency": "EUR"}, "validation_error"),
        ({"legs": []}, "validation_error"),
        ({"accept_odds": "maybe"}, "validation_error"),
        ({"system": "2/3"}, "invalid_system"),
    ],
)
def test_bad_input_is_a_400(auth_api: APIClient, player: Any, event: Any, change: dict[str, Any], code: str) -> None:
    body = {**single(selection_of(event, "moneyline", "home")), **change}

    assert_refused(place(auth_api, body), 400, code)
    assert_nothing_placed(player)


GOOD = {"type": "single", "stake": 1_000, "currency": "NGN", "legs": [{"selection": 7, "odds": "1.9"}]}


@pytest.mark.parametrize(
    ("change", "plain"),
    [
        ({}, True),
        ({"accept_odds": "exact", "system": None}, True),
        ({"type": "system", "system": "2/3", "extra": 1}, True),
        ({"system": ""}, True),
        ({"legs": [{"selection": 7}]}, True),
        ({"legs": [{"selection": 7, "odds": None}, {"selection": 8, "odds": "2.0500"}]}, True),
        ({"legs": [{"selection": 7, "odds": 1.9}]}, False),
        ({"legs": [{"selection": 7, "odds": 2}]}, False),
        ({"legs": [{"selection": 7, "odds": "1.00001"}]}, False),
        ({"legs": [{"selection": 7, "odds": " 1.9 "}]}, True),
        ({"legs": [{"selection": "7", "odds": "1.9"}]}, False),
        ({"legs": [{"selection": 7.0, "odds": "1.9"}]}, False),
        ({"legs": [{"selection": True, "odds": "1.9"}]}, False),
        ({"legs": [{"selection": 0, "odds": "1.9"}]}, False),
        ({"legs": [7]}, False),
        ({"legs": []}, False),
        ({"legs": [{"selection": n, "odds": "1.9"} for n in range(1, 52)]}, False),
        ({"stake": "1000"}, False),
        ({"stake": 10.0}, False),
        ({"stake": True}, False),
        ({"stake": 0}, False),
        ({"type": "lucky15"}, False),
        ({"type": None}, False),
        ({"currency": "EUR"}, False),
        ({"accept_odds": None}, False),
        ({"system": " 2/3"}, False),
        ({"system": "123456789"}, False),
        ({"system": 23}, False),
        ({"system": "2/3\x00"}, False),
        ({"system": "2/\ud8003"}, False),
    ],
)
def test_the_plain_reading_of_a_placing_body_agrees_with_the_serializer(change: dict[str, Any], plain: bool) -> None:
    """A body read without DRF gives exactly what the Input serializer would give; any other body
    is left to the serializer."""
    from betting.api.public import BetsView, placing_input_plain

    body = {**GOOD, **change}
    read = placing_input_plain(body)
    serializer = BetsView.Input(data=body)

    assert (read is not None) == plain
    if read is not None:
        assert serializer.is_valid(), serializer.errors
        values = serializer.validated_data
        assert read == {
            "type": values["type"],
            "stake": values["stake"],
            "currency": values["currency"],
            "legs": [{"selection": leg["selection"], "odds": leg.get("odds")} for leg in values["legs"]],
            "accept_odds": values["accept_odds"],
            "system": values.get("system"),
        }


def test_a_body_that_is_not_an_object_is_a_400(auth_api: APIClient, player: Any) -> None:
    assert_refused(place(auth_api, [GOOD]), 400, "validation_error")  # type: ignore[arg-type]


def test_the_idempotency_key_is_required(auth_api: APIClient, player: Any, event: Any) -> None:
    response = auth_api.post("/api/bets", single(selection_of(event, "moneyline", "home")), format="json")

    assert_refused(response, 400, "idempotency_key_required")


def test_odds_are_required_unless_any_will_do(auth_api: APIClient, player: Any, event: Any) -> None:
    body = single(selection_of(event, "moneyline", "home"))
    del body["legs"][0]["odds"]

    assert_refused(place(auth_api, body), 400, "odds_required")
    assert_refused(place(auth_api, {**body, "legs": [{"selection": 1, "odds": "1.00001"}]}), 400, "validation_error")


def test_leg_counts(auth_api: APIClient, player: Any, make_event: Callable[..., Any]) -> None:
    a, b = make_event(), make_event()
    one = [{"selection": selection_of(a, "moneyline", "home").pk, "odds": "1.9"}]
    two = [*one, {"selection": selection_of(b, "moneyline", "home").pk, "odds": "1.9"}]
    sixteen = [{"selection": n, "odds": "1.9"} for n in range(1, 17)]
    base = {"stake": 3_000, "currency": "NGN"}

    assert_refused(place(auth_api, {**base, "type": "single", "legs": two}), 400, "invalid_leg_count")
    assert_refused(place(auth_api, {**base, "type": "parlay", "legs": one}), 400, "invalid_leg_count")
    assert_refused(place(auth_api, {**base, "type": "parlay", "legs": sixteen}), 400, "invalid_leg_count")
    assert_refused(place(auth_api, {**base, "type": "system", "system": "2/2", "legs": two}), 400, "invalid_system")
    assert_refused(place(auth_api, {**base, "type": "parlay", "legs": [one[0], one[0]]}), 400, "duplicate_selection")
    assert_nothing_placed(player)


def test_a_system_stake_must_divide_into_its_lines(
    auth_api: APIClient, player: Any, make_event: Callable[..., Any]
) -> None:
    legs = [{"selection": selection_of(make_event(), "moneyline", "home").pk, "odds": "1.9"} for _ in range(3)]

    body = assert_refused(
        place(auth_api, {"type": "system", "system": "2/3", "stake": 1_000, "currency": "NGN", "legs": legs}),
        400,
        "system_stake_indivisible",
    )
    assert body["details"]["lines"] == 3
    assert_nothing_placed(player)


# --- refused: the catalogue ----------------------------------------------------------------


def test_an_unknown_selection_is_not_found(auth_api: APIClient, player: Any) -> None:
    assert_refused(place(auth_api, {**single(Selection(pk=999_999, odds=Decimal("2")))}), 404, "selection_not_found")
    # An id no database column could hold is just as unknown.
    assert_refused(place(auth_api, {**single(Selection(pk=2**70, odds=Decimal("2")))}), 404, "selection_not_found")


def test_a_suspended_market_refuses(auth_api: APIClient, player: Any, event: Any) -> None:
    home = selection_of(event, "moneyline", "home")
    market_update(market_id=home.market_id, action="suspend")

    assert_refused(place(auth_api, single(home)), 422, "market_suspended")
    assert_nothing_placed(player)


@pytest.mark.parametrize("action", ["close", "void"])
def test_a_closed_or_void_market_refuses(auth_api: APIClient, player: Any, event: Any, action: str) -> None:
    home = selection_of(event, "moneyline", "home")
    market_update(market_id=home.market_id, action=action)

    assert_refused(place(auth_api, single(home)), 422, "market_closed")


def test_pre_match_only_before_the_start(auth_api: APIClient, player: Any, make_event: Callable[..., Any]) -> None:
    started = make_event(start=datetime.now(UTC) - timedelta(minutes=1))

    assert_refused(place(auth_api, single(selection_of(started, "moneyline", "home"))), 422, "event_started")


def test_a_live_event_refuses_its_pre_match_markets(auth_api: APIClient, player: Any, event: Any) -> None:
    event_result_record(event_id=event.pk, status="live")
    # The pre-match markets closed when the event went live.
    assert_refused(place(auth_api, single(selection_of(event, "moneyline", "home"))), 422, "market_closed")


def test_a_postponed_or_cancelled_event_refuses(
    auth_api: APIClient, player: Any, make_event: Callable[..., Any]
) -> None:
    postponed, cancelled = make_event(), make_event()
    event_result_record(event_id=postponed.pk, status="postponed")
    event_result_record(event_id=cancelled.pk, status="cancelled")

    assert_refused(place(auth_api, single(selection_of(postponed, "moneyline", "home"))), 422, "market_suspended")
    assert_refused(place(auth_api, single(selection_of(cancelled, "moneyline", "home"))), 422, "market_closed")


def test_two_legs_from_one_event_refuse(auth_api: APIClient, player: Any, event: Any) -> None:
    legs = [selection_of(event, "moneyline", "home"), selection_of(event, "total", "over")]

    body = assert_refused(
        place(
            auth_api,
            {
                "type": "parlay",
                "stake": 1_000,
                "currency": "NGN",
                "legs": [{"selection": s.pk, "odds": str(s.odds)} for s in legs],
            },
        ),
        422,
        "same_event_legs",
    )
    assert body["details"]["event"] == event.pk


# --- refused: odds --------------------------------------------------------------------------


def test_changed_odds_are_a_409_with_the_current_odds(auth_api: APIClient, player: Any, event: Any) -> None:
    home = selection_of(event, "moneyline", "home")
    market_update(market_id=home.market_id, odds={home.pk: "1.80"})

    body = assert_refused(place(auth_api, single(home, odds="1.90")), 409, "odds_changed")

    assert body["details"]["legs"] == [
        {"selection": home.pk, "requested": "1.9000", "current": "1.8000", "accepted": False}
    ]
    assert_nothing_placed(player)


def test_exact_refuses_even_a_better_price(auth_api: APIClient, player: Any, event: Any) -> None:
    home = selection_of(event, "moneyline", "home")

    assert_refused(place(auth_api, single(home, odds="1.85", accept_odds="exact")), 409, "odds_changed")
    assert place(auth_api, single(home, odds="1.90", accept_odds="exact")).status_code == 201


# --- refused: limits ------------------------------------------------------------------------


def test_stake_limits(auth_api: APIClient, player: Any, event: Any, settings: Any) -> None:
    settings.BET_STAKE_MIN = {"NGN": 1_000}
    settings.BET_STAKE_MAX = {"NGN": 50_000}
    home = selection_of(event, "moneyline", "home")

    low = assert_refused(place(auth_api, single(home, stake=999)), 422, "stake_too_low")
    high = assert_refused(place(auth_api, single(home, stake=50_001)), 422, "stake_too_high")

    assert low["details"]["min_stake"]["amount"] == 1_000 and high["details"]["max_stake"]["amount"] == 50_000
    assert place(auth_api, single(home, stake=1_000)).status_code == 201
    assert place(auth_api, single(home, stake=50_000)).status_code == 201


def test_maximum_payout(auth_api: APIClient, player: Any, event: Any, settings: Any) -> None:
    settings.BET_MAX_PAYOUT = {"NGN": 100_000}
    home = selection_of(event, "moneyline", "home")  # 1.90

    body = assert_refused(place(auth_api, single(home, stake=60_000)), 422, "max_payout_exceeded")

    assert body["details"]["max_stake"]["amount"] == 52_631
    assert place(auth_api, single(home, stake=52_631)).status_code == 201


def test_liability_cap_per_selection(auth_api: APIClient, player: Any, event: Any, settings: Any) -> None:
    settings.BET_LIABILITY_CAP = {"NGN": 20_000}
    home, away = selection_of(event, "moneyline", "home"), selection_of(event, "moneyline", "away")

    assert place(auth_api, single(home, stake=20_000)).status_code == 201  # exposure 18,000
    body = assert_refused(place(auth_api, single(home, stake=5_000)), 422, "liability_exceeded")
    assert body["details"]["selection"] == home.pk
    assert SelectionLiability.objects.get(selection=home).amount == 18_000
    assert place(auth_api, single(home, stake=2_000)).status_code == 201  # exposure 1,800: fits
    assert place(auth_api, single(away, stake=5_000)).status_code == 201  # another selection
    assert reconcile().clean


def test_daily_stake_limit_and_a_new_day(auth_api: APIClient, player: Any, make_event: Callable[..., Any]) -> None:
    player_limits_set(user_id=player.pk, daily_stake_limits={"NGN": 25_000})
    today = datetime.now(UTC).replace(hour=10, minute=0)
    home = selection_of(make_event(start=today + timedelta(days=3)), "moneyline", "home")

    with time_machine.travel(today, tick=False):
        assert place(auth_api, single(home, stake=20_000)).status_code == 201
        body = assert_refused(place(auth_api, single(home, stake=6_000)), 422, "daily_stake_limit")
        assert body["details"]["remaining"]["amount"] == 5_000
        assert BetSlip.objects.filter(user=player).count() == 1 and wallet(player) == FUNDS - 20_000
        assert place(auth_api, single(home, stake=5_000)).status_code == 201
    with time_machine.travel(today + timedelta(days=1), tick=False):
        assert place(auth_api, single(home, stake=20_000)).status_code == 201
    assert DailyStake.objects.filter(user=player).count() == 2


def test_self_exclusion_is_a_403_until_it_ends(
    auth_api: APIClient, player: Any, make_event: Callable[..., Any]
) -> None:
    player_limits_set(user_id=player.pk, self_exclude_days=7)
    later = make_event(start=datetime.now(UTC) + timedelta(days=30))
    home = selection_of(later, "moneyline", "home")

    body = assert_refused(place(auth_api, single(home)), 403, "self_excluded")
    assert body["details"]["until"]
    assert_nothing_placed(player)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=8), tick=False):
        assert place(auth_api, single(home)).status_code == 201


def test_insufficient_funds_write_nothing(api: APIClient, make_user: Callable[..., Any], fund: Any, event: Any) -> None:
    poor = make_user()
    fund(poor, 5_000, "NGN")
    api.force_authenticate(poor)

    assert_refused(place(api, single(selection_of(event, "moneyline", "home"), stake=5_001)), 422, "insufficient_funds")

    assert not BetSlip.objects.exists()
    assert wallet(poor) == 5_000 and escrow() == 0
    assert not SelectionLiability.objects.filter(amount__gt=0).exists()
    assert not DailyStake.objects.filter(amount__gt=0).exists()
    assert not OutboxEvent.objects.filter(type="bet.placed").exists()
    assert reconcile().clean


def test_anonymous_players_cannot_bet(api: APIClient, event: Any) -> None:
    assert place(api, single(selection_of(event, "moneyline", "home"))).status_code == 401


def test_a_players_token_places_and_a_refused_users_token_is_401_before_any_other_error(
    player: Any, event: Any
) -> None:
    """Placing reads the player in its own first statement (not in authentication): a token's
    user that is gone or inactive still meets 401 first, whatever else is wrong with the request."""
    from rest_framework_simplejwt.tokens import AccessToken

    from users.models import User

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(player)}")
    body = single(selection_of(event, "moneyline", "home"))
    placed = place(api, body, key="token-1")
    assert placed.status_code == 201 and placed.json()["stake"]["amount"] == 10_000
    assert place(api, body, key="token-1")["Idempotent-Replayed"] == "true"

    User.objects.filter(pk=player.pk).update(is_active=False)
    for refused in (
        place(api, body, key="token-1"),  # a replay
        place(api, body),
        place(api, {**body, "stake": "ten"}),
        api.post("/api/bets", body, format="json"),  # no Idempotency-Key
    ):
        assert refused.status_code == 401, refused.json()
        assert refused.json()["error"]["code"] == "authentication_failed"
        assert "User is inactive" in refused.json()["error"]["message"]

    token = AccessToken.for_user(player)
    token["user_id"] = player.pk + 1_000_000
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    gone = place(api, body)
    assert gone.status_code == 401 and "User not found" in gone.json()["error"]["message"]
    assert BetSlip.objects.filter(user=player).count() == 1


# --- idempotency ----------------------------------------------------------------------------


def test_replays_with_one_key_make_one_slip(auth_api: APIClient, player: Any, event: Any) -> None:
    body = single(selection_of(event, "moneyline", "home"))

    first = place(auth_api, body, key="slip-key-1")
    second = place(auth_api, body, key="slip-key-1")
    third = place(auth_api, body, key="slip-key-1")

    assert first.status_code == second.status_code == third.status_code == 201
    assert first.json()["id"] == second.json()["id"] == third.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert BetSlip.objects.filter(user=player).count() == 1
    assert wallet(player) == FUNDS - 10_000
    assert_refused(place(auth_api, {**body, "stake": 20_000}, key="slip-key-1"), 409, "idempotency_key_reused")


def test_the_answer_is_stored_with_the_slip_and_met_even_by_a_body_refused_before_placing(
    auth_api: APIClient, player: Any, event: Any
) -> None:
    body = single(selection_of(event, "moneyline", "home"))
    first = place(auth_api, body, key="slip-key-2")

    record = IdempotencyRecord.objects.get(scope=f"user:{player.pk}", key="slip-key-2")
    assert (record.response_status, json.loads(record.response_body)) == (201, first.json())
    # Refused by the view before it places (a malformed stake, an unknown odds format): the key
    # still answers as it did.
    assert_refused(place(auth_api, {**body, "stake": "ten"}, key="slip-key-2"), 409, "idempotency_key_reused")
    again = place(auth_api, body, key="slip-key-2", query="?odds_format=hongkong")
    assert again.status_code == 201 and again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    # A refusal stores nothing: the key can be used again.
    assert_refused(place(auth_api, {**body, "stake": FUNDS * 2}, key="slip-key-3"), 422, "insufficient_funds")
    assert not IdempotencyRecord.objects.filter(key="slip-key-3").exists()
    assert place(auth_api, body, key="slip-key-3").status_code == 201


def test_a_key_in_use_by_another_request_is_409_in_progress(
    auth_api: APIClient, player: Any, event: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("betting.services.placement.LOCK_WAIT_S", 0.2)
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("pool", None)
    with psycopg.connect(**params, autocommit=True) as other:
        # The lock `idempotent` holds while another request with the key runs.
        other.execute("SELECT pg_advisory_lock(%s)", [advisory_key(f"idempotency:user:{player.pk}:slip-key-4")])
        refused = place(auth_api, single(selection_of(event, "moneyline", "home")), key="slip-key-4")

    assert_refused(refused, 409, "idempotency_in_progress")
    assert_nothing_placed(player)


def test_the_key_is_the_players_own(
    auth_api: APIClient, player: Any, event: Any, make_user: Callable[..., Any], fund: Any
) -> None:
    other = make_user()
    fund(other, 100_000, "NGN")
    other_api = APIClient()
    other_api.force_authenticate(other)
    body = single(selection_of(event, "moneyline", "home"))

    mine, theirs = place(auth_api, body, key="same"), place(other_api, body, key="same")

    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


def test_the_service_answers_a_replay_even_after_the_market_closed(player: Any, event: Any) -> None:
    from betting.services import LegRequest, bet_place

    home = selection_of(event, "moneyline", "home")
    args = {
        "user_id": player.pk,
        "slip_type": "single",
        "stake": 1_000,
        "currency": "NGN",
        "legs": [LegRequest(selection_id=home.pk, odds=home.odds)],
        "idempotency_key": "script-1",
    }
    first = bet_place(**args)
    market_update(market_id=home.market_id, action="close")

    again = bet_place(**args)

    assert first.created and not again.created and again.slip.pk == first.slip.pk
    assert Market.objects.get(pk=home.market_id).status == "closed"
