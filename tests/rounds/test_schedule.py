"""The beat: open the next round, lock at lock time, settle from close + 5 min, retry, void."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from betting.models import PriceFetch, Round
from betting.rounds import tasks
from betting.schedule import PERIODIC_TASKS
from config.celery import app as celery_app
from core.management.commands.setup_periodic_tasks import declared_tasks, write_schedule
from tests.fakes.closing_prices import ClosingPricesFake
from tests.rounds.conftest import ny
from tests.rounds.helpers import bet, wallet

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager() -> Iterator[None]:
    """Run enqueued tasks in process, as a worker would."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous


def test_schedule_is_declared_and_written() -> None:
    names = {p.name for p in PERIODIC_TASKS}
    assert {"rounds-open-next", "rounds-lock-due", "rounds-settle-due"} <= names
    celery_app.loader.import_default_modules()  # what a worker does when it starts
    assert {p.task for p in PERIODIC_TASKS} <= set(celery_app.tasks)
    written = write_schedule(declared_tasks())
    assert any("rounds-settle-due" in line for line in written)


@pytest.mark.parametrize(
    ("now", "code"),
    [
        (ny(2026, 7, 3, 10), "20260706"),  # Independence Day observed: no round, Monday's opens
        (ny(2026, 3, 7, 12), "20260309"),  # Saturday before the DST change
        (ny(2026, 11, 20, 16, 0), "20261123"),  # Friday after the lock
        (ny(2026, 11, 26, 9), "20261127"),  # Thanksgiving: the early-close Friday
    ],
)
def test_open_next_opens_the_round_taking_bets(clock: Callable[..., None], now: Any, code: str) -> None:
    clock(now)
    assert tasks.rounds_open_next() == code
    assert tasks.rounds_open_next() == code  # idempotent
    assert list(Round.objects.values_list("code", flat=True)) == [code]


def test_open_next_fetches_the_reference_once_published(clock: Callable[..., None], prices: ClosingPricesFake) -> None:
    prices.set_close("QQQ", "2026-03-06", "601.25")
    clock(ny(2026, 3, 6, 16, 3))  # Friday's close is not out yet (16:05 settle time)
    tasks.rounds_open_next()
    assert Round.objects.get(code="20260309").reference_price is None and prices.requests == []
    clock(ny(2026, 3, 6, 16, 10))
    tasks.rounds_open_next()
    opened = Round.objects.get(code="20260309")
    assert str(opened.reference_price) == "601.250000000000000000" and opened.reference_source == "http"


def test_lock_due_locks_at_lock_time(clock: Callable[..., None], player: Callable[..., Any]) -> None:
    clock(ny(2026, 3, 9, 15))
    tasks.rounds_open_next()
    bet(player(), "UP", 5)
    clock(ny(2026, 3, 9, 15, 59, 58))
    assert tasks.rounds_lock_due() == []
    clock(ny(2026, 3, 9, 15, 59, 59))
    assert tasks.rounds_lock_due() == ["20260309"]
    locked = Round.objects.get(code="20260309")
    assert (locked.status, locked.up_pool, locked.up_bets) == ("locked", 5, 1)


def test_settle_due_settles_from_close_plus_5_retries_then_voids(
    clock: Callable[..., None], player: Callable[..., Any], prices: ClosingPricesFake, eager: None
) -> None:
    clock(ny(2026, 11, 27, 9))  # early close: 13:00, settle from 13:05, void from 13:35
    tasks.rounds_open_next()
    alice = player()
    bet(alice, "UP", 5)
    bet(player(), "DOWN", 5)
    prices.set_close("QQQ", "2026-11-25", "600")
    clock(ny(2026, 11, 27, 13, 4, 59))
    assert tasks.rounds_settle_due() == []
    clock(ny(2026, 11, 27, 13, 5))
    claimed = tasks.rounds_settle_due()
    assert len(claimed) == 1
    current = Round.objects.get(code="20261127")
    assert current.status == "locked" and current.next_attempt_at == ny(2026, 11, 27, 13, 6)
    assert tasks.rounds_settle_due() == []  # not before the next attempt
    for minute in range(6, 35):
        clock(ny(2026, 11, 27, 13, minute))
        tasks.rounds_settle_due()
    assert Round.objects.get(code="20261127").status == "locked"
    clock(ny(2026, 11, 27, 13, 35))
    tasks.rounds_settle_due()
    voided = Round.objects.get(code="20261127")
    assert (voided.status, voided.void_reason) == ("void", "oracle_silent")
    assert voided.settle_attempts == 30
    assert PriceFetch.objects.filter(purpose="close", outcome="not_available").count() == 31
    assert wallet(alice) == 10_000_000


def test_settle_task_before_its_time_is_a_no_op(clock: Callable[..., None]) -> None:
    clock(ny(2026, 3, 9, 12))
    tasks.rounds_open_next()
    opened = Round.objects.get(code="20260309")
    assert tasks.round_settle(opened.pk) == "round_open"
    assert Round.objects.get(pk=opened.pk).status == "open"
