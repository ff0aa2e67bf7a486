"""The NYSE clock: trading days, early closes, daylight saving, reference days."""

from __future__ import annotations

import socket
from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from betting.rounds import nyse
from core.errors import ValidationFailed
from tests.rounds.conftest import ny

HOLIDAYS_2026 = ["01-01", "01-19", "02-16", "04-03", "05-25", "06-19", "07-03", "09-07", "11-26", "12-25"]
HOLIDAYS_2027 = ["01-01", "01-18", "02-15", "03-26", "05-31", "06-18", "07-05", "09-06", "11-25", "12-24"]


@pytest.mark.parametrize("day", [f"2026-{d}" for d in HOLIDAYS_2026] + [f"2027-{d}" for d in HOLIDAYS_2027])
def test_exchange_holidays_have_no_round(day: str) -> None:
    holiday = date.fromisoformat(day)
    assert not nyse.is_trading_day(holiday)
    with pytest.raises(ValidationFailed) as err:
        nyse.round_times(holiday)
    assert err.value.code == "not_a_trading_day"


def test_weekends_have_no_round() -> None:
    assert not nyse.is_trading_day(date(2026, 11, 21))  # Saturday
    assert not nyse.is_trading_day(date(2026, 11, 22))
    assert nyse.is_trading_day(date(2026, 11, 23))


@pytest.mark.parametrize("day", ["2026-11-27", "2026-12-24", "2027-11-26"])
def test_early_close_days_lock_at_12_59_59(day: str) -> None:
    times = nyse.round_times(date.fromisoformat(day))
    assert times.early_close
    assert times.close_at.astimezone(nyse.NEW_YORK).time() == time(13, 0)
    assert times.lock_at.astimezone(nyse.NEW_YORK).time() == time(12, 59, 59)
    assert times.settle_at.astimezone(nyse.NEW_YORK).time() == time(13, 5)
    assert times.void_after.astimezone(nyse.NEW_YORK).time() == time(13, 35)


@pytest.mark.parametrize(
    ("day", "close_utc"),
    [
        # Spring forward on Sunday 2026-03-08: Friday closes at 21:00 UTC, Monday at 20:00 UTC.
        ("2026-03-06", datetime(2026, 3, 6, 21, 0, tzinfo=UTC)),
        ("2026-03-09", datetime(2026, 3, 9, 20, 0, tzinfo=UTC)),
        # Fall back on Sunday 2026-11-01.
        ("2026-10-30", datetime(2026, 10, 30, 20, 0, tzinfo=UTC)),
        ("2026-11-02", datetime(2026, 11, 2, 21, 0, tzinfo=UTC)),
    ],
)
def test_close_is_16_00_new_york_across_daylight_saving(day: str, close_utc: datetime) -> None:
    times = nyse.round_times(date.fromisoformat(day))
    assert times.close_at == close_utc
    assert times.lock_at.astimezone(nyse.NEW_YORK).time() == time(15, 59, 59)
    assert times.open_at.astimezone(nyse.NEW_YORK).time() == time(9, 30)
    assert not times.early_close
    assert (times.close_at - times.lock_at).total_seconds() == 1


@pytest.mark.parametrize(
    ("day", "reference"),
    [
        ("2026-03-09", "2026-03-06"),  # Monday: Friday's close
        ("2026-01-20", "2026-01-16"),  # after Martin Luther King day
        ("2026-07-06", "2026-07-02"),  # after the Friday 07-03 holiday and a weekend
        ("2026-11-27", "2026-11-25"),  # the early close after Thanksgiving
        ("2026-11-24", "2026-11-23"),
    ],
)
def test_reference_is_the_previous_trading_day(day: str, reference: str) -> None:
    assert nyse.round_times(date.fromisoformat(day)).reference_date == date.fromisoformat(reference)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (ny(2026, 11, 21, 12), "2026-11-23"),  # Saturday -> Monday
        (ny(2026, 11, 20, 15, 59, 58), "2026-11-20"),  # Friday before the lock
        (ny(2026, 11, 20, 15, 59, 59), "2026-11-23"),  # Friday at the lock -> Monday
        (ny(2026, 7, 3, 10), "2026-07-06"),  # holiday
        (ny(2026, 7, 2, 16, 30), "2026-07-06"),  # after the lock before a holiday
        (ny(2026, 11, 27, 13, 0), "2026-11-30"),  # early close day, after its lock
        (ny(2026, 3, 8, 3, 30), "2026-03-09"),  # the DST night
    ],
)
def test_current_trading_day(now: datetime, expected: str) -> None:
    assert nyse.current_trading_day(now) == date.fromisoformat(expected)


def test_round_code_is_a_date() -> None:
    assert nyse.parse_code("20260309") == date(2026, 3, 9)
    for bad in ["2026-03-09", "20261340", "abc", "2026030", ""]:
        with pytest.raises(ValidationFailed):
            nyse.parse_code(bad)


def test_calendar_builds_without_network(monkeypatch: Any) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the exchange calendar tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    nyse._calendar.cache_clear()
    try:
        assert nyse.round_times(date(2030, 11, 29)).early_close  # day after Thanksgiving 2030
    finally:
        nyse._calendar.cache_clear()
