"""Grading and payout maths: how many slips per second the pure rules price, exactly.

100,000 singles and 20,000 parlays and system bets over 50 finished events: each selection graded
once (`selection_outcome`), then per slip every leg graded at its odds (`leg_grade`), the slip's
payout (`slip_payout`) and its money split (`settlement_split`). Beside it, in the same run, a
baseline doing the same multiplications in 28-digit `Decimal` (the leanest naive loop: no checks,
inexact on dead heats). No database: the rules are pure.

    .venv/bin/python bench/grading.py
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from itertools import combinations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from betting.pricing import settlement_split, slip_payout  # noqa: E402
from settlement.grading import (  # noqa: E402
    EventFacts,
    EventStatus,
    Grade,
    MarketFacts,
    Outcome,
    Ungraded,
    leg_grade,
    selection_outcome,
)

KICKOFF = datetime(2026, 11, 21, 15, 0, tzinfo=UTC)
NOW = KICKOFF + timedelta(hours=3)
SINGLES, COMBOS, EVENTS = 100_000, 20_000, 50

rng = random.Random(7)  # noqa: S311 - a benchmark's data, not security
events = [
    EventFacts(
        status=EventStatus.FINISHED,
        scheduled_start=KICKOFF,
        actual_start=KICKOFF,
        disrupted=False,
        home_score=rng.randint(0, 5),
        away_score=rng.randint(0, 5),
        placings={"a": 1, "b": 1, "c": 1, "d": 4},
    )
    for _ in range(EVENTS)
]
# Per event: moneyline, 1X2, a quarter spread, a quarter total and an outright dead heat.
MARKETS = [
    ("moneyline", "home", None),
    ("1x2", "draw", None),
    ("spread", "away", Decimal("0.25")),
    ("total", "over", Decimal("2.75")),
    ("outright", "b", None),
]
selections = [(e, kind, pick, line) for e in range(EVENTS) for kind, pick, line in MARKETS]


# Each selection trades at a few prices over its life (a base price and four moves), as a
# real book's does; legs are placed at one of them.
prices = [
    [Decimal(base + move).scaleb(-4) for move in (-400, -200, 0, 200, 400)]
    for base in (rng.randint(11_500, 60_000) for _ in range(EVENTS * len(MARKETS)))
]


def random_odds(selection: int) -> Decimal:
    return rng.choice(prices[selection])


slips: list[tuple[str, int, int | None, list[tuple[int, Decimal]]]] = []
for _ in range(SINGLES):
    selection = rng.randrange(len(selections))
    slips.append(("single", rng.randint(100, 100_000), None, [(selection, random_odds(selection))]))
for i in range(COMBOS):
    n = rng.randint(3, 6)
    picked = rng.sample(range(EVENTS), n)
    chosen = [e * len(MARKETS) + rng.randrange(len(MARKETS)) for e in picked]
    legs = [(selection, random_odds(selection)) for selection in chosen]
    if i % 2:
        slips.append(("parlay", rng.randint(100, 100_000), None, legs))
    else:
        k = n - 1
        slips.append(("system", math.comb(n, k) * rng.randint(10, 1_000), k, legs))


def exact_run() -> tuple[float, float, int]:
    started, cpu = time.perf_counter(), time.process_time()
    markets = {kind: MarketFacts(kind=kind, paying_places=2) for kind, _, _ in MARKETS}
    outcomes: list[Outcome | Ungraded] = [
        selection_outcome(event=events[e], market=markets[kind], pick=pick, line=line, now=NOW)
        for e, kind, pick, line in selections
    ]
    placed = KICKOFF - timedelta(hours=1)
    total = 0
    for kind, stake, k, legs in slips:
        graded: list[Grade] = []
        for index, odds in legs:
            e, market_kind, _, _ = selections[index]
            leg = leg_grade(
                outcome=outcomes[index],
                odds=odds,
                accepted_at=placed,
                in_play=False,
                event=events[e],
                market=markets[market_kind],
            )
            assert isinstance(leg, Grade)  # noqa: S101
            graded.append(leg)
        settled = slip_payout(kind=kind, stake=stake, legs=graded, system_k=k)
        split = settlement_split(stake=stake, payout=settled.payout)
        total += split.escrow_to_wallet + split.house_to_wallet
    return time.perf_counter() - started, time.process_time() - cpu, total


def decimal_factor(outcome: Outcome, odds: Decimal) -> Decimal:
    """RULES.md's factor table in 28-digit Decimal: rounds a dead heat's o * p / n."""
    match outcome.result:
        case "won" if outcome.dead_heat is not None:
            return odds * outcome.dead_heat.places / outcome.dead_heat.tied
        case "won":
            return odds
        case "half_won":
            return (odds + 1) / 2
        case "half_lost":
            return Decimal("0.5")
        case "lost":
            return Decimal(0)
    return Decimal(1)


def decimal_run() -> tuple[float, float, int]:
    """The baseline: the leanest loop, in Decimal, with no validation and no void checks."""
    started, cpu = time.perf_counter(), time.process_time()
    markets = {kind: MarketFacts(kind=kind, paying_places=2) for kind, _, _ in MARKETS}
    outcomes = [
        selection_outcome(event=events[e], market=markets[kind], pick=pick, line=line, now=NOW)
        for e, kind, pick, line in selections
    ]
    total = 0
    for _kind, stake, k, legs in slips:
        factors = []
        for index, odds in legs:
            outcome = outcomes[index]
            assert isinstance(outcome, Outcome)  # noqa: S101
            factors.append(decimal_factor(outcome, odds))
        if k is not None:
            line_stake = Decimal(stake // math.comb(len(factors), k))
            value = sum((line_stake * math.prod(c, start=Decimal(1)) for c in combinations(factors, k)), Decimal(0))
        else:
            value = Decimal(stake) * math.prod(factors, start=Decimal(1))
        payout = int(value.to_integral_value(rounding=ROUND_FLOOR))
        returned = min(stake, payout)
        total += returned + (payout - returned)
    return time.perf_counter() - started, time.process_time() - cpu, total


def main() -> None:
    count = len(slips)
    exact_s, exact_cpu, exact_total = exact_run()
    base_s, base_cpu, base_total = decimal_run()
    print(f"slips: {count} ({SINGLES} singles, {COMBOS} parlays and systems of 3-6 legs) over {EVENTS} events")
    print(
        f"exact (Fraction), grade legs + payout + money split: {count / exact_s:,.0f} slips/s "
        f"({exact_s:.2f} s wall, {count / exact_cpu:,.0f} slips/s on CPU time)"
    )
    print(
        f"baseline (Decimal, no checks), factors + payout:    {count / base_s:,.0f} slips/s "
        f"({base_s:.2f} s wall, {count / base_cpu:,.0f} slips/s on CPU time)"
    )
    print(f"exact takes {exact_s / base_s:.1f}x the baseline's wall time ({exact_cpu / base_cpu:.1f}x its CPU time)")
    print(f"paid (minor units): exact {exact_total:,}; baseline {base_total:,} (differs where Decimal rounds)")


if __name__ == "__main__":
    main()
