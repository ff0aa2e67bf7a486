"""Settlement racing itself and dying, with real OS processes on the test database: two Celery
workers, the cron endpoint and a webhook (served by a real web server) settling one event at once;
a `settle_bets` killed with SIGKILL in the middle of a bulk settlement, then run again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from betting.models import BetLeg, BetSlip, Event, Selection
from betting.pricing import slip_potential_payout
from betting.services.limits import liability_reserve
from ledger.chain.local import free_port
from ledger.models import Account, Transaction
from ledger.reconcile import reconcile
from ledger.services import Entry, Line, entries_post, system_account, wallet_for
from realtime.models import OutboxEvent
from settlement.models import SettlementRun
from settlement.services.runs import settlement_run_create
from settlement.services.webhook import SIGNATURE_HEADER, signature_header
from tests.processes import CRON_SECRET, ROOT, child_env, port_open
from tests.settlement.conftest import moneyline

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PYTHON = sys.executable


def spawn(args: list[str], log: Path, **env: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, cwd=ROOT, env=child_env(**env), stdout=out, stderr=subprocess.STDOUT)  # noqa: S603


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until(check: Any, *, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def slips_bulk(*, selections: list[Selection], count: int, players: int = 40, stake: int = 1_000) -> list[int]:
    """`count` slips, set-based but as placement leaves them: legs, each stake moved to escrow by
    its own `bet:place:<slip>` transaction, the liability counted. The first selection is on the
    event under test; a slip takes the others as parlay legs by turns."""
    from tests.factories import fund, make_user

    users = [make_user() for _ in range(players)]
    for user in users:
        fund(user, 10_000_000)
    wallets = {u.pk: wallet_for(user_id=u.pk, currency="NGN").pk for u in users}
    escrow = system_account(kind=Account.Kind.BETS_ESCROW, currency="NGN").pk
    placed = timezone.now() - timedelta(hours=3)
    with transaction.atomic():
        slips, legs_of = [], []
        for n in range(count):
            legs = [selections[0]] if n % 3 else [selections[0], selections[1 + n % (len(selections) - 1)]]
            kind = "single" if len(legs) == 1 else "parlay"
            slips.append(
                BetSlip(
                    user_id=users[n % players].pk,
                    type=kind,
                    stake=stake,
                    currency="NGN",
                    potential_payout=slip_potential_payout(kind=kind, stake=stake, odds=[s.odds for s in legs]),
                    placed_at=placed,
                    accepted_at=placed,
                    client_key=uuid.uuid4().hex,
                )
            )
            legs_of.append(legs)
        BetSlip.objects.bulk_create(slips)
        BetLeg.objects.bulk_create(
            [
                BetLeg(slip=slip, selection=s, event_id=s.market.event_id, odds_placed=s.odds)
                for slip, legs in zip(slips, legs_of, strict=True)
                for s in legs
            ]
        )
        entries_post(
            [
                Entry(
                    key=f"bet:place:{slip.pk}",
                    kind="bet.place",
                    lines=[Line(wallets[slip.user_id], -stake, "NGN"), Line(escrow, stake, "NGN")],
                    reference=f"slip:{slip.pk}",
                )
                for slip in slips
            ]
        )
        exposure: dict[int, int] = {}
        for slip, legs in zip(slips, legs_of, strict=True):
            for s in legs:
                exposure[s.pk] = exposure.get(s.pk, 0) + slip.potential_payout - stake
        for selection_id, amount in exposure.items():
            liability_reserve(selection_ids=[selection_id], currency="NGN", exposure=amount, cap=None)
    return [slip.pk for slip in slips]


@pytest.fixture
def event_with_slips() -> Iterator[tuple[Event, list[int]]]:
    """An event with 450 slips, a third of them parlays with a leg on events already settled."""
    from betting.services import EventSpec, event_create, event_result_record
    from settlement.services.events import event_settle

    def make(name: str) -> Event:
        return event_create(
            spec=EventSpec(
                sport="SOCCER", league="EPL", name="", home=f"{name} H", away=f"{name} A",
                scheduled_start=timezone.now() + timedelta(hours=1), markets=[moneyline("1.90", "2.05")],
            )
        )  # fmt: skip

    main, others = make("Main"), [make("Early"), make("Earlier")]
    home = Selection.objects.select_related("market").get(market__event=main, outcome="home")
    other_homes = [Selection.objects.select_related("market").get(market__event=e, outcome="home") for e in others]
    ids = slips_bulk(selections=[home, *other_homes], count=450)
    for other in others:
        event_result_record(event_id=other.pk, status="finished", home_score=1, away_score=0)
        event_settle(event_id=other.pk)
    event_result_record(event_id=main.pk, status="finished", home_score=2, away_score=1)
    # The results queued runs of their own (the result hook); the tests start their racers themselves.
    SettlementRun.objects.filter(status="queued").delete()
    yield main, ids


def assert_each_settled_once(slip_ids: list[int]) -> None:
    slips = BetSlip.objects.filter(pk__in=slip_ids)
    assert not slips.exclude(status=BetSlip.Status.WON).exists()
    assert set(slips.values_list("settlement_version", flat=True)) == {1}
    keys = Transaction.objects.filter(kind="bet.settle", reference__in=[f"slip:{i}" for i in slip_ids])
    assert keys.count() == len(slip_ids)
    assert set(keys.values_list("idempotency_key", flat=True)) == {f"bet:settle:{i}:v1" for i in slip_ids}
    assert OutboxEvent.objects.filter(type="bet.settled", data__slip__in=slip_ids).count() == len(slip_ids)
    report = reconcile()
    assert report.clean, report


def test_two_workers_the_cron_endpoint_and_a_webhook_settle_one_event_at_once(
    event_with_slips: tuple[Event, list[int]], tmp_path: Path, redis_db: Any
) -> None:
    from config.celery import app

    event, slip_ids = event_with_slips
    port = free_port()
    small_chunks = {"SETTLEMENT_CHUNK_SIZE": "15"}
    workers = [
        spawn(
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-Q",
                "settlement",
                "--pool",
                "solo",
                "-n",
                f"race{n}-{uuid.uuid4().hex[:6]}@%h",
                "--without-mingle",
                "--without-gossip",
                "--loglevel",
                "WARNING",
            ],
            tmp_path / f"worker{n}.log",
            **small_chunks,
        )  # fmt: skip
        for n in range(2)
    ]
    server = spawn(
        [PYTHON, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", "--skip-checks"],
        tmp_path / "server.log",
        **small_chunks,
    )
    try:
        wait_until(lambda: len(app.control.ping(timeout=0.5) or []) >= 2, timeout_s=90, what="two workers")
        wait_until(lambda: port_open(port), timeout_s=60, what="the web server")

        # Both workers get a run of the event; the cron call and the webhook arrive with them.
        from settlement.tasks import run_execute

        runs = [settlement_run_create(trigger="command", event_id=event.pk) for _ in workers]
        answers: dict[str, int] = {}

        def cron() -> None:
            request = urllib.request.Request(  # noqa: S310 - our own server
                f"http://127.0.0.1:{port}/api/cron/settle-bets?sync=0&event={event.pk}",
                headers={"Authorization": f"Bearer {CRON_SECRET}"},
            )
            with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
                answers["cron"] = response.status

        def webhook() -> None:
            body = json.dumps({"event": event.pk, "status": "finished", "home_score": 2, "away_score": 1}).encode()
            request = urllib.request.Request(  # noqa: S310 - our own server
                f"http://127.0.0.1:{port}/api/settlement/webhook",
                data=body,
                method="POST",
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: signature_header(body=body, timestamp=int(time.time())),
                },
            )
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                answers["webhook"] = response.status
                answers["webhook_run"] = json.loads(response.read())["run"]

        callers = [threading.Thread(target=cron), threading.Thread(target=webhook)]
        for run in runs:
            run_execute.apply_async(args=(run.pk,))
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(timeout=180)
        assert (answers["cron"], answers["webhook"]) == (200, 202)

        def all_runs_over() -> bool:
            return not SettlementRun.objects.filter(status__in=["queued", "running", "retrying"]).exists()

        wait_until(all_runs_over, timeout_s=180, what="every run to finish")
    finally:
        for process in [*workers, server]:
            stop(process)

    assert_each_settled_once(slip_ids)
    finished = SettlementRun.objects.filter(target_event=event)
    # The webhook queued a run of its own, or joined a run of the event still waiting in the queue.
    assert set(finished.values_list("trigger", flat=True)) >= {"command", "cron"}
    assert finished.filter(pk=answers["webhook_run"]).exists()
    assert set(finished.values_list("status", flat=True)) == {"succeeded"}
    assert sum(finished.values_list("slips_settled", flat=True)) == len(slip_ids)  # no slip counted twice


def test_a_worker_killed_in_the_middle_of_a_bulk_settlement(
    event_with_slips: tuple[Event, list[int]], tmp_path: Path
) -> None:
    event, slip_ids = event_with_slips
    command = [PYTHON, "manage.py", "settle_bets", "--event", str(event.pk)]
    worker = spawn(command, tmp_path / "killed.log", SETTLEMENT_CHUNK_SIZE="5")
    settled = BetSlip.objects.filter(pk__in=slip_ids).exclude(status=BetSlip.Status.PENDING)
    wait_until(lambda: settled.count() > 0 or worker.poll() is not None, timeout_s=120, what="the first chunk")
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    at_kill = settled.count()
    assert 0 < at_kill < len(slip_ids), f"the kill came too late to be in the middle ({at_kill})"

    # Nothing half-done: each slip is settled with its ledger transaction and its event, or untouched.
    settled_ids = set(settled.values_list("pk", flat=True))
    keys = set(Transaction.objects.filter(kind="bet.settle").values_list("reference", flat=True))
    assert {f"slip:{i}" for i in settled_ids} == keys & {f"slip:{i}" for i in slip_ids}
    assert set(OutboxEvent.objects.filter(type="bet.settled").values_list("data__slip", flat=True)) == settled_ids
    assert reconcile().clean
    killed = SettlementRun.objects.get(status="running")  # its process died with it

    rerun = subprocess.run(command, cwd=ROOT, env=child_env(), capture_output=True, timeout=180, check=True)  # noqa: S603
    assert f"settled {len(slip_ids) - at_kill} " in rerun.stdout.decode()
    assert_each_settled_once(slip_ids)
    SettlementRun.objects.filter(pk=killed.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    from settlement.services.runs import settlement_runs_reap

    assert settlement_runs_reap() == 1


def test_a_run_settles_its_events_in_threads_each_slip_once(settings: Any) -> None:
    """Four finished events, parlays across them, settled by one run in three threads: every slip
    once, the run's figures whole, its correlation id on every ledger line it wrote, and a broken
    slip reported by the run without holding up the others."""
    from betting.services import EventSpec, event_create, event_result_record
    from core.logging import bind_correlation_id
    from settlement.services.runs import settlement_run

    settings.SETTLEMENT_THREADS = 3
    settings.SETTLEMENT_CHUNK_SIZE = 7
    events = [
        event_create(
            spec=EventSpec(
                sport="SOCCER",
                league="EPL",
                name="",
                home=f"T{n} H",
                away=f"T{n} A",
                scheduled_start=timezone.now() + timedelta(hours=1),
                markets=[moneyline("1.90", "2.05")],
            )
        )  # fmt: skip
        for n in range(4)
    ]
    homes = [Selection.objects.select_related("market").get(market__event=e, outcome="home") for e in events]
    slip_ids = [
        slip_id
        for n, home in enumerate(homes)
        for slip_id in slips_bulk(selections=[home, homes[(n + 1) % len(homes)]], count=30, players=6)
    ]
    broken = slip_ids[0]
    BetSlip.objects.filter(pk=broken).update(accepted_at=None)  # a pending slip never accepted: cannot settle
    for event in events:
        event_result_record(event_id=event.pk, status="finished", home_score=1, away_score=0)
    SettlementRun.objects.filter(status="queued").delete()  # the results' own runs; this test runs its own

    correlation = bind_correlation_id("threaded-run")
    run = settlement_run(trigger="command", requested_by="test")

    assert (run.status, run.events, run.slips_settled) == ("retrying", 4, len(slip_ids) - 1)
    assert {e["slip"] for e in run.errors if "slip" in e} == {broken}  # on both events of its parlay
    assert BetSlip.objects.get(pk=broken).status == BetSlip.Status.PENDING
    assert_each_settled_once(slip_ids[1:])
    written = Transaction.objects.filter(kind="bet.settle", reference__in=[f"slip:{i}" for i in slip_ids])
    assert set(written.values_list("correlation_id", flat=True)) == {correlation}
