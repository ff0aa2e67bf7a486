"""manage.py bet / sync_events, the demo loader, the schedule, and the admin pages."""

from __future__ import annotations

import io
import socket
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client

from betting.demo import OUTRIGHT_ID, load_demo
from betting.models import BetSlip, Event, Market, Selection
from core.management.commands.setup_periodic_tasks import declared_tasks
from tests.betting.conftest import FROZEN_AT, selection_of
from tests.fakes.sportsgameodds import FakeSportsGameOdds

pytestmark = pytest.mark.django_db


def run(*args: str, **options: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def test_bet_command_places_and_replays(user: Any, fund: Any, make_event: Callable[..., Any]) -> None:
    fund(user, 100_000, "NGN")
    home = selection_of(make_event(), "moneyline", "home")

    first = run("bet", "--user", user.username, "--selection", str(home.pk), "--stake", "2500", "--key", "ops-1")
    again = run("bet", "--user", str(user.pk), "--selection", str(home.pk), "--stake", "2500", "--key", "ops-1")

    assert "placed slip" in first and "NGN 25.00" in first and "NGN 47.50" in first
    assert "already placed" in again
    assert BetSlip.objects.filter(user=user).count() == 1


def test_bet_command_reports_refusals(user: Any, make_event: Callable[..., Any]) -> None:
    home = selection_of(make_event(), "moneyline", "home")

    with pytest.raises(CommandError, match="insufficient_funds"):
        run("bet", "--user", user.username, "--selection", str(home.pk), "--stake", "2500")
    with pytest.raises(CommandError, match="no user"):
        run("bet", "--user", "nobody-here", "--selection", str(home.pk), "--stake", "2500")


def test_sync_events_command(sgo: FakeSportsGameOdds) -> None:
    with time_machine.travel(FROZEN_AT, tick=False):
        out = run("sync_events", "--league", "NFL")
        assert "synced: fetched" in out
        assert set(Event.objects.values_list("league__key", flat=True)) == {"NFL"}
        sgo.fail_next(500, times=10)
        with pytest.raises(CommandError, match="500"):
            run("sync_events")


def test_the_demo_loads_once(sgo: FakeSportsGameOdds) -> None:
    with time_machine.travel(FROZEN_AT, tick=False):
        load_demo(io.StringIO())
        counts = (Event.objects.count(), Market.objects.count(), Selection.objects.count())
        load_demo(io.StringIO())

    assert (Event.objects.count(), Market.objects.count(), Selection.objects.count()) == counts
    assert Event.objects.filter(external_id=OUTRIGHT_ID, markets__kind="outright").count() == 1
    assert Event.objects.filter(provider="sportsgameodds").exists()


def test_the_demo_serves_the_fake_itself_when_nothing_does(settings: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    settings.FAKE_PORT_BASE = free - 1
    settings.SPORTSGAMEODDS_API_KEY = ""
    settings.SPORTSGAMEODDS_LOOKAHEAD_HOURS = 1
    out = io.StringIO()

    with time_machine.travel(FROZEN_AT, tick=False):
        load_demo(out)

    assert "feed synced" in out.getvalue()
    assert Event.objects.filter(provider="sportsgameodds").exists()


def test_the_schedule_declares_the_sync_and_the_sweep(settings: Any) -> None:
    tasks = {t.task: t for t in declared_tasks()}

    assert tasks["betting.tasks.sync_events"].every_s == settings.SPORTSGAMEODDS_SYNC_INTERVAL_S
    assert "betting.tasks.live_bets_sweep" in tasks


@pytest.fixture
def admin_client(make_user: Callable[..., Any]) -> Client:
    client = Client()
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def test_admin_pages_and_actions(admin_client: Client, make_event: Callable[..., Any], user: Any, fund: Any) -> None:
    event = make_event()
    home = selection_of(event, "moneyline", "home")
    fund(user, 100_000, "NGN")
    run("bet", "--user", user.username, "--selection", str(home.pk), "--stake", "1000")
    for model in ("event", "market", "selection", "betslip", "selectionliability", "playerlimits", "dailystake"):
        assert admin_client.get(f"/admin/betting/{model}/").status_code == 200, model
    assert admin_client.get(f"/admin/betting/event/{event.pk}/change/").status_code == 200
    assert admin_client.get(f"/admin/betting/market/{home.market_id}/change/").status_code == 200
    assert admin_client.get("/admin/betting/betslip/?q=" + user.username).status_code == 200

    admin_client.post("/admin/betting/market/", {"action": "market_suspend", "_selected_action": [home.market_id]})
    assert Market.objects.get(pk=home.market_id).status == "suspended"

    response = admin_client.post(
        f"/admin/betting/event/{event.pk}/result/", {"status": "finished", "home_score": 3, "away_score": 0}
    )
    assert response.status_code == 302
    event.refresh_from_db()
    assert (event.status, event.home_score, event.result_version) == ("finished", 3, 1)


def test_player_limits_in_the_admin_must_be_minor_units(admin_client: Client, user: Any) -> None:
    from betting.models import PlayerLimits

    def save(limits: str) -> Any:
        return admin_client.post("/admin/betting/playerlimits/add/", {"user": user.pk, "daily_stake_limits": limits})

    assert save('{"NGN": "lots"}').status_code == 200  # the form again, with the error
    assert not PlayerLimits.objects.exists()
    assert save('{"NGN": 500000}').status_code == 302
    assert PlayerLimits.objects.get(user=user).daily_stake_limits == {"NGN": 500000}
