"""The demo of `make run`: demo players back the fake feed's next games, and the bets settle as
those games finish."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command

from betting.demo import load_demo as betting_demo
from betting.models import BetSlip
from betting.services import live_bets_due, slip_live_confirm
from ledger.reconcile import reconcile
from settlement.demo import load_demo
from settlement.services.runs import sync_and_settle
from tests.betting.conftest import FROZEN_AT, sgo  # noqa: F401 - the fake feed fixture

pytestmark = pytest.mark.django_db


def test_demo_bets_settle_as_the_fake_feeds_games_finish(sgo: Any, time_machine: Any) -> None:  # noqa: F811
    time_machine.move_to(FROZEN_AT, tick=False)
    call_command("seed", users=3, stdout=io.StringIO())
    betting_demo(io.StringIO())
    out = io.StringIO()
    load_demo(out)
    slips = BetSlip.objects.filter(client_key__startswith="demo-settlement")
    placed = slips.count()
    assert placed >= 9 and "they settle as the games finish" in out.getvalue()
    assert slips.filter(live=True).exists() and slips.filter(live=False).exists()
    load_demo(io.StringIO())
    assert slips.count() == placed  # demo bets still open: nothing added

    time_machine.move_to(FROZEN_AT + timedelta(seconds=30), tick=False)
    for slip_id in live_bets_due():  # what the worker's sweep does with live bets after their delay
        slip_live_confirm(slip_id=slip_id)
    accepted = slips.filter(status="pending").count()
    assert accepted == placed - slips.filter(status="rejected").count() and accepted > 0

    time_machine.move_to(FROZEN_AT + timedelta(minutes=90), tick=False)  # the games are over and final
    run = sync_and_settle()  # the beat: results from the feed, then settlement
    assert run.status == "succeeded", run.errors
    assert not slips.filter(status__in=["pending", "awaiting"]).exists()
    assert run.slips_settled == accepted
    assert reconcile().clean
