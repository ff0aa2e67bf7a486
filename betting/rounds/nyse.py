"""The NYSE clock: which days are trading days, and when a round on one of them locks and settles.

Backed by `exchange_calendars` (XNYS), which computes holidays and early closes from rules held
in the package: nothing is downloaded. Times are aware datetimes; the exchange's own zone,
America/New_York, is used for every local-time decision, so daylight-saving changes fall where
the exchange says they do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import exchange_calendars
import pandas as pd
from django.conf import settings

from core.errors import ValidationFailed

NEW_YORK = ZoneInfo("America/New_York")
# The window the calendar is built for; a date outside it is refused rather than guessed.
FIRST_DAY = date(2020, 1, 1)
LAST_DAY = date(2036, 12, 31)
REGULAR_CLOSE = time(16, 0)
LOCK_BEFORE_CLOSE = timedelta(seconds=1)


@lru_cache(maxsize=1)
def _calendar() -> exchange_calendars.ExchangeCalendar:
    return exchange_calendars.get_calendar("XNYS", start=FIRST_DAY.isoformat(), end=LAST_DAY.isoformat())


def _check_range(day: date) -> None:
    if not FIRST_DAY < day < LAST_DAY:
        raise ValidationFailed(
            f"{day} is outside the exchange calendar ({FIRST_DAY} to {LAST_DAY}).", code="date_out_of_range"
        )


def is_trading_day(day: date) -> bool:
    _check_range(day)
    return bool(_calendar().is_session(pd.Timestamp(day)))


def previous_trading_day(day: date) -> date:
    """The last trading day before `day` (which need not be a trading day itself)."""
    _check_range(day)
    previous: date = _calendar().date_to_session(pd.Timestamp(day - timedelta(days=1)), direction="previous").date()
    return previous


def next_trading_day(day: date) -> date:
    """The first trading day on or after `day`."""
    _check_range(day)
    result: date = _calendar().date_to_session(pd.Timestamp(day), direction="next").date()
    return result


@dataclass(frozen=True)
class RoundTimes:
    trading_date: date
    open_at: datetime
    close_at: datetime
    lock_at: datetime
    settle_at: datetime
    void_after: datetime
    early_close: bool
    reference_date: date

    @property
    def code(self) -> str:
        return self.trading_date.strftime("%Y%m%d")


def round_times(day: date) -> RoundTimes:
    """The clock of the round on `day`; refuses a day the exchange does not trade."""
    if not is_trading_day(day):
        raise ValidationFailed(
            f"{day} is not an NYSE trading day: no round.", code="not_a_trading_day", details={"date": day.isoformat()}
        )
    session = pd.Timestamp(day)
    open_at = _calendar().session_open(session).to_pydatetime().astimezone(NEW_YORK)
    close_at = _calendar().session_close(session).to_pydatetime().astimezone(NEW_YORK)
    settle_at = close_at + timedelta(minutes=settings.CLOSE_FETCH_DELAY_MIN)
    return RoundTimes(
        trading_date=day,
        open_at=open_at,
        close_at=close_at,
        lock_at=close_at - LOCK_BEFORE_CLOSE,
        settle_at=settle_at,
        void_after=settle_at + timedelta(minutes=settings.SETTLE_GRACE_MIN),
        early_close=close_at.time() < REGULAR_CLOSE,
        reference_date=previous_trading_day(day),
    )


def current_trading_day(now: datetime) -> date:
    """The trading day whose round takes bets at `now`: today until its lock, then the next one."""
    today = now.astimezone(NEW_YORK).date()
    day = next_trading_day(today)
    if now >= round_times(day).lock_at:
        day = next_trading_day(day + timedelta(days=1))
    return day


def parse_code(code: str) -> date:
    """`YYYYMMDD` -> date; anything else is a 400."""
    try:
        if len(code) != 8 or not code.isdigit():
            raise ValueError(code)
        return datetime.strptime(code, "%Y%m%d").date()  # noqa: DTZ007 - a calendar date, not an instant
    except ValueError:
        raise ValidationFailed(
            f"A round code is a date written YYYYMMDD, not {code!r}.", code="invalid_round_code"
        ) from None
