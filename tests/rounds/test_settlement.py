"""Settling rounds: exact payouts, fee and dust, voids and refunds, prices and their days."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from betting.models import ManualPrice, PriceFetch, Round, RoundBet
from betting.rounds.payouts import settle_pool
from betting.rounds.services import manual_price_set, round_lock, round_open
from betting.rounds.settlement import _pay_chunk, round_settle
from core.errors import Conflict
from ledger.models import Account, Transaction
from ledger.reconcile import reconcile
from ledger.services import Entry, Line, entries_post, reversal_post, system_account
from realtime.models import OutboxEvent
from tests.fakes.closing_prices import ClosingPricesFake
from tests.rounds.conftest import ny
from tests.rounds.helpers import balance, bet, wallet

pytestmark = pytest.mark.django_db


@pytest.fixture
def monday(clock: Callable[..., None]) -> Round:
    clock(ny(2026, 3, 7, 12))
    return round_open()


def settle_time(clock: Callable[..., None]) -> None:
    clock(ny(2026, 3, 9, 16, 5))


def test_settles_up_with_exact_payouts_fee_and_dust(
    monday: Round, player: Callable[..., Any], prices: ClosingPricesFake, clock: Callable[..., None]
) -> None:
    users = [player() for _ in range(5)]
    stakes = [(users[0], "UP", 1_000_001), (users[1], "UP", 2_000_003), (users[2], "UP", 333)]
    stakes += [(users[3], "DOWN", 1_234_567), (users[4], "DOWN", 7)]
    bets = [bet(user, side, amount) for user, side, amount in stakes]
    prices.set_closes("QQQ", [("2026-03-06", "600.10"), ("2026-03-09", "600.11")])
    settle_time(clock)

    outcome = round_settle(code="20260309")

    settled = Round.objects.get(pk=monday.pk)
    assert (outcome.state, settled.status, settled.result) == ("settled", "settled", "UP")
    assert settled.reference_price == Decimal("600.10") and settled.closing_price == Decimal("600.11")
    assert (settled.reference_source, settled.closing_source) == ("http", "http")
    expected = settle_pool(stakes=[(b.pk, b.side, b.amount) for b in bets], result="UP", fee_bps=100)
    assert settled.fee == expected.split.fee == 12_345  # floor(1,234,574 * 1%)
    assert settled.dust == expected.dust
    for placed in bets:
        row = RoundBet.objects.get(pk=placed.pk)
        assert row.payout == expected.payouts[placed.pk]
        assert row.status == ("won" if placed.side == "UP" else "lost")
        if row.status == "won":
            tx = Transaction.objects.get(pk=row.payout_transaction_id)
            assert tx.idempotency_key == f"round:20260309:payout:{row.pk}"
    for user, _, _ in stakes:
        assert wallet(user) == 10_000_000 - sum(b.amount for b in bets if b.user_id == user.pk) + sum(
            expected.payouts[b.pk] for b in bets if b.user_id == user.pk
        )
    assert balance("fees") == settled.fee
    assert balance("rounding") == settled.dust
    assert balance("bets_escrow") == 0
    assert settled.paid_out + settled.fee + settled.dust == settled.total_pool == sum(a for _, _, a in stakes)
    changes = list(
        OutboxEvent.objects.filter(type="round.updated", topic="round:20260309")
        .exclude(data__change="bet")
        .values_list("data__change", flat=True)
    )
    assert changes == ["opened", "locked", "prices", "decided", "settled"]
    assert reconcile().clean


def test_a_tie_is_down(
    monday: Round, player: Callable[..., Any], prices: ClosingPricesFake, clock: Callable[..., None]
) -> None:
    up, down = bet(player(), "UP", 500), bet(player(), "DOWN", 500)
    prices.set_closes("QQQ", [("2026-03-06", "600.10"), ("2026-03-09", "600.1")])
    settle_time(clock)
    assert round_settle(code="20260309").round.result == "DOWN"
    assert RoundBet.objects.get(pk=down.pk).payout == 500 + 495  # fee 5 on the UP pool of 500
    assert RoundBet.objects.get(pk=up.pk).status == "lost"
    assert reconcile().clean


def test_monday_reference_is_fridays_close(
    monday: Round, player: Callable[..., Any], prices: ClosingPricesFake, clock: Callable[..., None]
) -> None:
    bet(player(), "UP", 10)
    bet(player(), "DOWN", 10)
    prices.set_closes("QQQ", [("2026-03-06", "500"), ("2026-03-08", "999"), ("2026-03-09", "499")])
    settle_time(clock)
    settled = round_settle(code="20260309").round
    assert settled.reference_date.isoformat() == "2026-03-06" and settled.reference_price == Decimal("500")
    assert settled.result == "DOWN"
    assert sorted(prices.requests) == ["/v1/open-close/QQQ/2026-03-06", "/v1/open-close/QQQ/2026-03-09"]


def test_day_after_a_holiday_uses_the_close_before_it(
    player: Callable[..., Any], prices: ClosingPricesFake, clock: Callable[..., None]
) -> None:
    clock(ny(2026, 1, 19, 10))  # Martin Luther King day: no round, the next is Tuesday's
    opened = round_open()
    assert opened.code == "20260120" and opened.reference_date.isoformat() == "2026-01-16"
    bet(player(), "UP", 10)
    bet(player(), "DOWN", 10)
    prices.set_closes("QQQ", [("2026-01-16", "610"), ("2026-01-20", "611")])
    clock(ny(2026, 1, 20, 16, 5))
    assert round_settle(code="20260120").round.result == "UP"
    assert "/v1/open-close/QQQ/2026-01-19" not in prices.requests


def test_reference_comes_from_the_previous_round_without_another_call(
    player: Callable[..., Any], prices: ClosingPricesFake, clock: Callable[..., None]
) -> None:
    clock(ny(2026, 3, 6, 9))
    friday = round_open()
    bet(player(), "UP", 10)
    bet(player(), "DOWN", 10)
    prices.set_closes("QQQ", [("2026-03-05", "590"), ("2026-03-06", "600")])
    clock(ny(2026, 3, 6, 16, 5))
    assert round_settle(code=friday.code).round.closing_price == Decimal("600")
    clock(ny(2026, 3, 7, 12))
    monday = round_open()
    assert monday.reference_price == Decimal("600") and monday.reference_source == "round:20260306"
    prices.requests.clear()
    bet(player(), "UP", 10)
    bet(player(), "DOWN", 10)
    prices.set_close("QQQ", "2026-03-09", "600.01")
    settle_time(clock)
    assert round_settle(code=monday.code).round.result == "UP"
    assert prices.requests == ["/v1/open-close/QQQ/2026-03-09"]


def test_one_sided_pool_is_void_and_refunded_without_fee(
    monday: Round, player: Callable[..., Any], prices: ClosingPricesFake, clock: Callable[..., None]
) -> None:
    alice, bob = player(), player()
    bet(alice, "UP", 700)
    bet(bob, "UP", 300)
    prices.set_closes("QQQ", [("2026-03-06", "1"), ("2026-03-09", "2")])
    settle_time(clock)
    settled = round_settle(code="20260309").round
    assert (settled.status, settled.result, settled.void_reason) == ("void", "VOID", "one_sided")
    assert wallet(alice) == wallet(bob) == 10_000_000
    assert set(RoundBet.objects.values_list("status", flat=True)) == {"refunded"}
    assert Transaction.objects.filter(kind="round_refund").count() == 2
    assert balance("fees") == 0 and balance("bets_escrow") == 0
    assert reconcile().clean


def test_empty_round_is_void(monday: Round, prices: ClosingPricesFake, clock: Callable[..., None]) -> None:
    prices.set_closes("QQQ", [("2026-03-06", "1"), ("2026-03-09", "2")])
    settle_time(clock)
    settled = round_settle(code="20260309").round
    assert (settled.status, settled.void_reason) == ("void", "one_sided")


def test_oracle_silent_past_grace_voids_and_refunds_everyone(
    monday: Round, player: Callable[..., Any], prices: ClosingPricesFake, clock: Callable[..., None]
) -> None:
    alice, bob = player(), player()
    bet(alice, "UP", 1_000)
    bet(bob, "DOWN", 2_000)
    prices.set_close("QQQ", "2026-03-06", "600")  # the day's close never comes
    settle_time(clock)
    waiting = round_settle(code="20260309")
    assert waiting.state == "waiting" and waiting.round.status == "locked"
    assert waiting.round.next_attempt_at == ny(2026, 3, 9, 16, 6)
    assert PriceFetch.objects.filter(purpose="close", outcome="not_available").count() == 1
    clock(ny(2026, 3, 9, 16, 34, 59))
    assert round_settle(code="20260309").state == "waiting"
    clock(ny(2026, 3, 9, 16, 35))  # settle_at + 30 min
    settled = round_settle(code="20260309").round
    assert (settled.status, settled.result, settled.void_reason) == ("void", "VOID", "oracle_silent")
    assert wallet(alice) == wallet(bob) == 10_000_000
    assert balance("bets_escrow") == 0 and balance("fees") == 0
    assert reconcile().clean


def test_a_late_close_within_grace_settles(
    monday: Round, player: Callable[..., Any], prices: ClosingPricesFake, clock: Callable[..., None]
) -> None:
    bet(player(), "UP", 10)
    bet(player(), "DOWN", 10)
    prices.set_close("QQQ", "2026-03-06", "600")
    settle_time(clock)
    assert round_settle(code="20260309").state == "waiting"
    prices.set_close("QQQ", "2026-03-09", "590")
    clock(ny(2026, 3, 9, 16, 20))
    settled = round_settle(code="20260309").round
    assert (settled.status, settled.result, settled.settle_attempts) == ("settled", "DOWN", 1)


def test_too_early_and_still_open_are_refused(monday: Round, clock: Callable[..., None]) -> None:
    clock(ny(2026, 3, 9, 15))
    with pytest.raises(Conflict) as err:
        round_settle(code="20260309")
    assert err.value.code == "round_open"
    clock(ny(2026, 3, 9, 16, 4, 59))
    with pytest.raises(Conflict) as err:
        round_settle(code="20260309")
    assert err.value.code == "too_early"
    assert Round.objects.get(pk=monday.pk).status == "locked"  # it did lock: the lock time had passed


def test_operator_result_and_void(monday: Round, player: Callable[..., Any], clock: Callable[..., None]) -> None:
    alice, bob = player(), player()
    bet(alice, "UP", 100)
    bet(bob, "DOWN", 300)
    clock(ny(2026, 3, 9, 12))  # still open: the operator's decision locks it first
    settled = round_settle(code="20260309", result="UP", by="operator:ops").round
    assert (settled.status, settled.result, settled.decided_by) == ("settled", "UP", "operator:ops")
    assert wallet(alice) == 10_000_000 - 100 + 100 + 297
    with pytest.raises(Conflict):
        round_settle(code="20260309", result="DOWN")
    assert round_settle(code="20260309", result="UP").state == "already"
    assert reconcile().clean


def test_operator_void_of_an_open_round_refunds(monday: Round, player: Callable[..., Any]) -> None:
    alice = player()
    bet(alice, "UP", 100)
    bet(player(), "DOWN", 300)
    settled = round_settle(code="20260309", result="VOID", by="operator:ops").round
    assert (settled.status, settled.void_reason) == ("void", "operator")
    assert wallet(alice) == 10_000_000
    assert reconcile().clean


def test_manual_prices_win_over_the_oracle_until_decided(
    monday: Round, player: Callable[..., Any], prices: ClosingPricesFake, clock: Callable[..., None]
) -> None:
    bet(player(), "UP", 10)
    bet(player(), "DOWN", 10)
    prices.set_closes("QQQ", [("2026-03-06", "600"), ("2026-03-09", "601")])
    manual_price_set(asset="qqq", session_date=monday.trading_date, price="599.5", entered_by="ops")
    settle_time(clock)
    settled = round_settle(code="20260309").round
    assert settled.closing_price == Decimal("599.5") and settled.closing_source == "manual"
    assert settled.result == "DOWN"
    assert prices.requests == ["/v1/open-close/QQQ/2026-03-06"]
    with pytest.raises(Conflict):
        manual_price_set(asset="QQQ", session_date=monday.trading_date, price="700", entered_by="ops")
    assert ManualPrice.objects.get().price == Decimal("599.5")


def test_winner_with_debt_pays_it_off_first(
    monday: Round, player: Callable[..., Any], fund: Callable[..., Any], clock: Callable[..., None]
) -> None:
    alice = player(0)
    deposit_tx = fund(alice, 1_000, "USDC")
    bet(alice, "UP", 1_000)
    with __import__("django.db").db.transaction.atomic():
        reversal_post(original_id=deposit_tx, reason="chargeback")  # wallet empty: 1,000 owed
    receivable = Account.objects.get(user=alice, kind="receivable", currency="USDC")
    assert receivable.balance == -1_000
    bet(player(), "DOWN", 1_000)
    round_settle(code="20260309", result="UP", by="operator:ops")
    receivable.refresh_from_db()
    assert receivable.balance == 0
    assert wallet(alice) == 2_000 - 10 - 1_000  # payout 1,990 less the 1,000 owed
    assert reconcile().clean


def test_payout_in_chunks_and_resumed_after_an_interruption(
    monday: Round, player: Callable[..., Any], settings: Any
) -> None:
    winners = [player() for _ in range(7)]
    placed = [bet(user, "UP", 1_000 + i) for i, user in enumerate(winners)]
    bet(player(), "DOWN", 10_001)
    round_lock(code="20260309")
    # Decide, then stop after one chunk of 3 as if the worker died.
    settings.ROUNDS_SETTLE_CHUNK = 3
    from betting.rounds.settlement import _decide

    _decide(Round.objects.get(code="20260309"), result="UP", reason="", by="operator:ops")
    assert _pay_chunk(monday.pk, side="UP", after=(0, 0), chunk=3) == (3, (winners[2].pk, placed[2].pk))
    assert _pay_chunk(monday.pk, side="DOWN", after=(0, 0), chunk=3) == (0, (0, 0))  # losers are not paid
    assert RoundBet.objects.filter(status="won").count() == 3
    assert Round.objects.get(pk=monday.pk).status == "locked"
    outcome = round_settle(code="20260309", chunk=3)
    assert outcome.state == "settled" and outcome.bets_paid == 4
    expected = settle_pool(stakes=[(b.pk, b.side, b.amount) for b in RoundBet.objects.all()], result="UP", fee_bps=100)
    assert {b.pk: b.payout for b in RoundBet.objects.all()} == expected.payouts
    assert Transaction.objects.filter(kind="round_payout").count() == 7
    assert balance("bets_escrow") == 0
    assert {b.pk for b in placed} == set(RoundBet.objects.filter(status="won").values_list("pk", flat=True))
    assert reconcile().clean


def test_escrow_of_other_rounds_is_untouched(
    monday: Round, player: Callable[..., Any], clock: Callable[..., None]
) -> None:
    # Escrow also holds other products' stakes; a round pays out only its own.
    other = player()
    escrow = system_account(kind="bets_escrow", currency="USDC")
    wallet_account = Account.objects.get(user=other, kind="wallet", currency="USDC")
    from django.db import transaction

    with transaction.atomic():
        entries_post(
            [
                Entry(
                    key="other-product",
                    kind="bet",
                    lines=[Line(wallet_account.pk, -5, "USDC"), Line(escrow.pk, 5, "USDC")],
                )
            ]
        )
    bet(player(), "UP", 10)
    bet(player(), "DOWN", 10)
    round_settle(code="20260309", result="DOWN", by="operator:ops")
    assert balance("bets_escrow") == 5
    assert reconcile().clean


def test_operator_cannot_overrule_the_oracles_decision(
    monday: Round, player: Callable[..., Any], prices: ClosingPricesFake, clock: Callable[..., None]
) -> None:
    bet(player(), "UP", 10)
    bet(player(), "DOWN", 10)
    prices.set_closes("QQQ", [("2026-03-06", "600"), ("2026-03-09", "599")])
    settle_time(clock)
    round_lock(code="20260309")
    from betting.rounds.settlement import _decide

    _decide(Round.objects.get(code="20260309"), result="DOWN", reason="", by="oracle")  # the beat decided first
    with pytest.raises(Conflict) as err:
        round_settle(code="20260309", result="UP", by="operator:ops")
    assert err.value.code == "round_already_decided"
    assert round_settle(code="20260309").round.status == "settled"
    assert Round.objects.get(code="20260309").result == "DOWN"
