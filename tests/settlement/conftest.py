"""Fixtures of the settlement tests: a sportsbook made the way operators make it, bets placed by
the real placement service with real money, results recorded the way operators record them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from betting.models import BetSlip, Event, Selection
from betting.services import (
    EventSpec,
    LegRequest,
    MarketSpec,
    SelectionSpec,
    bet_place,
    event_create,
    event_result_record,
)
from ledger.models import Account
from ledger.selectors import account_balance
from ledger.services import receivable_for, system_account, wallet_for
from settlement.services.events import EventReport, event_settle

KICKOFF = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
PLACED = KICKOFF - timedelta(hours=2)
FINAL = KICKOFF + timedelta(hours=2)
FUNDS = 100_000_000  # NGN 1,000,000.00


def moneyline(home: str = "1.90", away: str = "2.05") -> MarketSpec:
    return MarketSpec(
        kind="moneyline",
        selections=[
            SelectionSpec(outcome="home", odds=Decimal(home)),
            SelectionSpec(outcome="away", odds=Decimal(away)),
        ],
    )


def one_x_two(home: str = "2.40", draw: str = "3.20", away: str = "3.00") -> MarketSpec:
    return MarketSpec(
        kind="1x2",
        selections=[
            SelectionSpec(outcome="home", odds=Decimal(home)),
            SelectionSpec(outcome="draw", odds=Decimal(draw)),
            SelectionSpec(outcome="away", odds=Decimal(away)),
        ],
    )


def spread(line: str, home: str = "1.95", away: str = "1.95") -> MarketSpec:
    return MarketSpec(
        kind="spread",
        line=Decimal(line),
        selections=[
            SelectionSpec(outcome="home", odds=Decimal(home)),
            SelectionSpec(outcome="away", odds=Decimal(away)),
        ],
    )


def total(line: str, over: str = "1.80", under: str = "2.00") -> MarketSpec:
    return MarketSpec(
        kind="total",
        line=Decimal(line),
        selections=[
            SelectionSpec(outcome="over", odds=Decimal(over)),
            SelectionSpec(outcome="under", odds=Decimal(under)),
        ],
    )


def outright(competitors: Sequence[tuple[str, str]], paying_places: int = 1) -> MarketSpec:
    return MarketSpec(
        kind="outright",
        name="Winner",
        paying_places=paying_places,
        selections=[SelectionSpec(outcome="competitor", name=name, odds=Decimal(odds)) for name, odds in competitors],
    )


@dataclass
class Book:
    """The sportsbook of one test: events, bets, results and settlement, on the frozen clock."""

    clock: Any
    make_user: Callable[..., Any]
    fund: Callable[..., Any]

    def player(self, funds: int = FUNDS) -> Any:
        user = self.make_user()
        if funds:
            self.fund(user, funds, "NGN")
        return user

    def event(self, *markets: MarketSpec, start: datetime = KICKOFF, teams: bool = True, name: str = "") -> Event:
        n = uuid.uuid4().hex[:6]
        return event_create(
            spec=EventSpec(
                sport="SOCCER",
                league="EPL",
                name=name,
                home=f"Home {n}" if teams else "",
                away=f"Away {n}" if teams else "",
                scheduled_start=start,
                markets=list(markets) or [moneyline()],
            ),
            now=PLACED - timedelta(days=1),
        )

    @staticmethod
    def selection(event: Event, kind: str, outcome: str, *, name: str = "", line: str | None = None) -> Selection:
        rows = Selection.objects.select_related("market").filter(
            market__event=event, market__kind=kind, outcome=outcome
        )
        if name:
            rows = rows.filter(name=name)
        if line is not None:
            rows = rows.filter(market__line=Decimal(line))
        return rows.get()

    def bet(
        self,
        user: Any,
        *selections: Selection,
        stake: int = 10_000,
        kind: str | None = None,
        system: str | None = None,
        at: datetime | None = None,
    ) -> BetSlip:
        placement = bet_place(
            user_id=user.pk,
            slip_type=kind or ("single" if len(selections) == 1 else "parlay"),
            stake=stake,
            currency="NGN",
            legs=[LegRequest(selection_id=s.pk, odds=s.odds) for s in selections],
            idempotency_key=uuid.uuid4().hex,
            system=system,
            now=at or PLACED,
        )
        return placement.slip

    def result(self, event: Event, status: str = "finished", *, home: int | None = None, away: int | None = None,
               placings: dict[int, int] | None = None, at: datetime | None = None) -> Event:  # fmt: skip
        if at is not None:
            self.clock.move_to(at, tick=False)
        return event_result_record(
            event_id=event.pk, status=status, home_score=home, away_score=away, placings=placings
        )

    def settle(self, event: Event, *, at: datetime | None = None) -> EventReport:
        if at is not None:
            self.clock.move_to(at, tick=False)
        return event_settle(event_id=event.pk)


@pytest.fixture
def book(time_machine: Any, make_user: Callable[..., Any], fund: Callable[..., Any]) -> Book:
    time_machine.move_to(PLACED - timedelta(days=1), tick=False)
    return Book(clock=time_machine, make_user=make_user, fund=fund)


def wallet(user: Any) -> int:
    return int(wallet_for(user_id=user.pk, currency="NGN").balance)


def owed(user: Any) -> int:
    return -int(receivable_for(user_id=user.pk, currency="NGN").balance)


def system_balance(kind: str) -> int:
    return int(account_balance(system_account(kind=kind, currency="NGN")))


def escrow() -> int:
    return system_balance(Account.Kind.BETS_ESCROW)


def house() -> int:
    return system_balance(Account.Kind.HOUSE)


def slip_of(slip: BetSlip) -> BetSlip:
    return BetSlip.objects.get(pk=slip.pk)
