"""Operators' tools: the commands (the original CLI's verbs), the admin screens, the demo."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from betting.demo import rounds_demo
from betting.models import ManualPrice, Round, RoundBet
from betting.rounds.services import round_open
from ledger.reconcile import reconcile
from tests.rounds.conftest import ny
from tests.rounds.helpers import bet, wallet

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_commands_run_a_round_end_to_end(clock: Callable[..., None], player: Callable[..., Any]) -> None:
    clock(ny(2026, 3, 7, 12))
    assert "round 20260309 QQQ open: bets until 2026-03-09 15:59:59 EDT" in run("open_round", "--code", "20260309")
    alice, bob = player(username="alice"), player(username="bob")
    assert "alice UP USDC 0.004000 on round 20260309" in run(
        "round_bet", "--user", "alice", "--side", "up", "--amount", "4000"
    )
    run("round_bet", "--user", str(bob.pk), "--side", "DOWN", "--amount", "1000", "--code", "20260309", "--key", "b1")
    run("round_bet", "--user", str(bob.pk), "--side", "DOWN", "--amount", "1000", "--code", "20260309", "--key", "b1")
    assert RoundBet.objects.filter(user=bob).count() == 1
    assert "UP USDC 0.004000 (1 bets), DOWN USDC 0.001000 (1 bets)" in run("lock_round", "--code", "20260309")
    tvl = run("tvl")
    assert "USDC  wallets USDC 19.995000  escrow USDC 0.005000  pools USDC 0.005000  total USDC 20.000000" in tvl
    clock(ny(2026, 3, 9, 16, 5))
    out = run("settle_round", "--code", "20260309", "--reference", "600", "--close", "600.01", "--operator", "ops")
    assert "round 20260309: settled, result UP" in out
    assert "fee USDC 0.000010" in out
    assert ManualPrice.objects.count() == 2
    assert wallet(alice) == 10_000_000 + 990
    assert "already settled" in run("settle_round", "--code", "20260309")
    assert reconcile().clean


def test_command_errors_are_clear(clock: Callable[..., None], player: Callable[..., Any]) -> None:
    clock(ny(2026, 7, 1, 12))
    with pytest.raises(CommandError, match="not an NYSE trading day"):
        run("open_round", "--code", "20260703")
    with pytest.raises(CommandError, match="round code"):
        run("lock_round", "--code", "2026-07-02")
    with pytest.raises(CommandError, match="No round 20260702"):
        run("settle_round", "--code", "20260702")
    with pytest.raises(CommandError, match="no user"):
        run("round_bet", "--user", "nobody", "--side", "UP", "--amount", "1")
    poor = player(0, username="poor")
    run("open_round")
    with pytest.raises(CommandError, match="does not hold enough"):
        run("round_bet", "--user", "poor", "--side", "UP", "--amount", "1")
    assert wallet(poor) == 0
    clock(ny(2026, 7, 1, 16, 5))
    assert "waiting for the reference and close price" in run("settle_round", "--code", "20260701")


@pytest.fixture
def operator(staff: Any) -> Client:
    staff.is_superuser = True
    staff.save()
    client = Client()
    client.force_login(staff)
    return client


def test_admin_screens_and_actions(
    operator: Client, staff: Any, clock: Callable[..., None], player: Callable[..., Any]
) -> None:
    clock(ny(2026, 3, 7, 12))
    opened = round_open()
    alice = player()
    bet(alice, "UP", 100)
    bet(player(), "DOWN", 100)
    for url in [
        "/admin/betting/round/",
        f"/admin/betting/round/{opened.pk}/change/",
        "/admin/betting/roundbet/",
        "/admin/betting/roundbet/?q=20260309",
        "/admin/betting/pricefetch/",
        "/admin/betting/manualprice/",
        "/admin/betting/manualprice/add/",
    ]:
        assert operator.get(url).status_code == 200, url
    response = operator.post(
        "/admin/betting/round/", {"action": "lock_rounds", "_selected_action": [opened.pk]}, follow=True
    )
    assert "20260309: now locked" in response.content.decode()
    operator.post("/admin/betting/round/", {"action": "void_rounds", "_selected_action": [opened.pk]})
    voided = Round.objects.get(pk=opened.pk)
    assert (voided.status, voided.void_reason, voided.decided_by) == ("void", "operator", f"operator:{staff.username}")
    assert wallet(alice) == 10_000_000
    # Settling a void round again changes nothing and says so.
    response = operator.post(
        "/admin/betting/round/", {"action": "settle_rounds", "_selected_action": [opened.pk]}, follow=True
    )
    assert "already void" in response.content.decode()
    assert reconcile().clean


def test_admin_manual_price_entry(operator: Client, clock: Callable[..., None]) -> None:
    clock(ny(2026, 3, 7, 12))
    form = {"asset": "qqq", "session_date": "2026-03-06", "price": "601.5", "note": "from the exchange's site"}
    assert operator.post("/admin/betting/manualprice/add/", form).status_code == 302
    entry = ManualPrice.objects.get()
    assert (entry.asset, str(entry.price.normalize())) == ("QQQ", "601.5")
    holiday = {**form, "session_date": "2026-07-03"}
    response = operator.post("/admin/betting/manualprice/add/", holiday)
    assert response.status_code == 200 and "not a trading day" in response.content.decode()
    assert ManualPrice.objects.count() == 1


def test_demo_round_is_idempotent(clock: Callable[..., None]) -> None:
    clock(ny(2026, 3, 7, 12))
    call_command("seed", users=3, stdout=StringIO())
    out = StringIO()
    rounds_demo(out)
    rounds_demo(out)
    assert RoundBet.objects.count() == 3
    assert Round.objects.get().code == "20260309"
    assert "3 demo bet(s) placed" in out.getvalue() and "0 demo bet(s) placed" in out.getvalue()
