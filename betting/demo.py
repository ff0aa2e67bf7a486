"""Demo data of the betting app for `make run` (idempotent)."""

from __future__ import annotations

from typing import Any

from betting.models import RoundBet
from betting.rounds.services import round_bet_place, round_open
from core.errors import ApplicationError
from users.models import User

# player, side, stake in micro-USDC (each demo player holds 1 USDC)
ROUND_BETS = [("player1", "UP", 250_000), ("player2", "DOWN", 400_000), ("player3", "UP", 100_000)]


def load_demo(stdout: Any) -> None:
    rounds_demo(stdout)


def rounds_demo(stdout: Any) -> None:
    """The Up/Down round taking bets, with a few bets on both sides (keys make a rerun a no-op)."""
    current = round_open()
    placed = 0
    for username, side, amount in ROUND_BETS:
        user = User.objects.filter(username=username).first()
        if user is None:
            continue
        key = f"demo:{current.code}:{username}"
        if RoundBet.objects.filter(user=user, idempotency_key=key).exists():
            continue
        try:
            round_bet_place(user_id=user.pk, side=side, amount=amount, idempotency_key=key, code=current.code)
        except ApplicationError as exc:
            stdout.write(f"demo bet of {username} skipped: {exc.message}")
            continue
        placed += 1
    stdout.write(f"Up/Down round {current.code} ({current.asset}) open; {placed} demo bet(s) placed")
