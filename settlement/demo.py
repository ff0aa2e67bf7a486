"""Demo bets for `make run`: the demo players (`seed`'s player1..3) back the fake feed's games in
play and coming up, so that within the hour their games finish, the feed sync records the results and the bets
settle by themselves (watch /tickets/ or the admin's settlement runs).

Idempotent: while the players still have demo bets pending nothing is added; a later `make run`,
once those have settled, places a fresh set on the games then coming up.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from betting.models import BetSlip, Event, Market, Selection
from betting.services import LegRequest, bet_place
from core.errors import ApplicationError
from users.models import User

PLAYERS = ("player1", "player2", "player3")
STAKE = 5_000  # NGN 50.00
KEY_PREFIX = "demo-settlement"


def _upcoming_selections() -> dict[int, list[Selection]]:
    """Open selections of the feed's games in play now or starting within the next two hours, by
    event, soonest first (a live bet is accepted after its delay by the worker's sweep)."""
    now = timezone.now()
    upcoming = Q(
        market__event__status=Event.Status.SCHEDULED, market__event__scheduled_start__gt=now + timedelta(minutes=1)
    )
    in_play = Q(market__event__status=Event.Status.LIVE, market__in_play=True)
    rows = (
        Selection.objects.select_related("market__event")
        .filter(upcoming | in_play)
        .filter(
            status=Selection.Status.OPEN,
            market__status=Market.Status.OPEN,
            market__kind__in=[Market.Kind.MONEYLINE, Market.Kind.ONE_X_TWO, Market.Kind.TOTAL],
            market__event__scheduled_start__lt=now + timedelta(hours=2),
        )
        .exclude(market__event__provider="manual")
        .order_by("market__event__scheduled_start", "market__event_id", "market_id", "pk")
    )
    by_event: dict[int, list[Selection]] = {}
    for selection in rows:
        by_event.setdefault(selection.market.event_id, []).append(selection)
    return by_event


def load_demo(stdout: Any) -> None:
    players = list(User.objects.filter(username__in=PLAYERS).order_by("username"))
    pending = BetSlip.objects.filter(
        user__in=players,
        status__in=[BetSlip.Status.PENDING, BetSlip.Status.AWAITING],
        client_key__startswith=KEY_PREFIX,
    )
    if not players or pending.exists():
        stdout.write(f"settlement: {pending.count()} demo bet(s) still pending; none added")
        return
    games = list(_upcoming_selections().items())[:4]
    if not games:
        stdout.write("settlement: no game of the feed starts in the next two hours; no demo bets")
        return
    placed = 0
    stamp = timezone.now().strftime("%Y%m%d%H%M")
    for n, player in enumerate(players):
        slips: list[list[Selection]] = []
        for index, (_, selections) in enumerate(games):
            slips.append([selections[(n + index) % len(selections)]])  # a single on each game
        if len(games) >= 2:
            slips.append([games[0][1][n % len(games[0][1])], games[1][1][(n + 1) % len(games[1][1])]])  # a parlay
        for k, legs in enumerate(slips):
            try:
                bet_place(
                    user_id=player.pk,
                    slip_type="single" if len(legs) == 1 else "parlay",
                    stake=STAKE,
                    currency="NGN",
                    legs=[LegRequest(selection_id=s.pk, odds=s.odds) for s in legs],
                    idempotency_key=f"{KEY_PREFIX}:{stamp}:{player.username}:{k}",
                    accept_odds=BetSlip.AcceptOdds.ANY,  # in-play odds move while a live bet waits
                )
                placed += 1
            except ApplicationError as exc:  # the odds moved, a limit: the demo goes on without it
                stdout.write(f"settlement: a demo bet of {player.username} was refused ({exc.code})")
    stdout.write(
        f"settlement: {placed} demo bet(s) on the next {len(games)} game(s) of the feed; they settle as the games finish"
    )
