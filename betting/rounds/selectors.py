"""Reads of rounds, their pools and bets, and the value locked on the platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import Count, QuerySet, Sum

from betting.models import Round, RoundBet, Side
from betting.rounds.nyse import parse_code
from core.errors import NotFound


def round_get(*, code: str) -> Round:
    parse_code(code)
    found = Round.objects.filter(code=code).first()
    if found is None:
        raise NotFound(f"No round {code}.", code="round_not_found", details={"code": code})
    return found


def round_for_betting(*, now: datetime) -> Round | None:
    """The open round that takes bets at `now`: the earliest whose lock is still ahead.

    When every open round is past its lock (the lock task has not run yet), that round is
    returned so the caller can say betting is closed rather than that nothing exists.
    """
    open_rounds = list(Round.objects.filter(status=Round.Status.OPEN).order_by("lock_at")[:10])
    for candidate in open_rounds:
        if candidate.lock_at > now:
            return candidate
    return open_rounds[-1] if open_rounds else None


def round_current(*, now: datetime) -> Round | None:
    """What `GET /api/rounds/current` shows: the round taking bets, else the latest one."""
    betting = round_for_betting(now=now)
    if betting is not None:
        return betting
    return Round.objects.filter(lock_at__lte=now).order_by("-trading_date").first()


@dataclass(frozen=True)
class Pools:
    up: int
    down: int
    up_bets: int
    down_bets: int

    @property
    def total(self) -> int:
        return self.up + self.down


def round_pools_live(*, round_id: int) -> Pools:
    """The stakes per side as committed now (the round's own columns are a snapshot at lock)."""
    sums = {Side.UP.value: (0, 0), Side.DOWN.value: (0, 0)}
    rows = RoundBet.objects.filter(round_id=round_id).values("side").annotate(total=Sum("amount"), n=Count("id"))
    for row in rows:
        sums[row["side"]] = (int(row["total"] or 0), int(row["n"]))
    return Pools(up=sums["UP"][0], down=sums["DOWN"][0], up_bets=sums["UP"][1], down_bets=sums["DOWN"][1])


def round_pools(*, round: Round) -> Pools:
    if round.status == Round.Status.OPEN:
        return round_pools_live(round_id=round.pk)
    return Pools(up=round.up_pool, down=round.down_pool, up_bets=round.up_bets, down_bets=round.down_bets)


def round_user_bets(*, round: Round, user_id: int) -> QuerySet[RoundBet]:
    return RoundBet.objects.filter(round=round, user_id=user_id).order_by("id")


@dataclass(frozen=True)
class LockedValue:
    currency: str
    wallets: int  # what players hold
    escrow: int  # stakes in play, every product
    pools: int  # of which Up/Down stakes not yet settled

    @property
    def total(self) -> int:
        return self.wallets + self.escrow


def tvl() -> list[LockedValue]:
    """Value locked per currency: three set-based sums."""
    rows: dict[str, dict[str, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT currency, sum(balance) FROM ledger_account WHERE kind = 'wallet' GROUP BY currency")
        for currency, total in cursor.fetchall():
            rows.setdefault(currency, {})["wallets"] = int(total or 0)
        cursor.execute(
            """SELECT a.currency, sum(p.amount) FROM ledger_account a
               JOIN ledger_posting p ON p.account_id = a.id
               WHERE a.kind = 'bets_escrow' GROUP BY a.currency"""
        )
        for currency, total in cursor.fetchall():
            rows.setdefault(currency, {})["escrow"] = int(total or 0)
        cursor.execute("SELECT currency, sum(amount) FROM betting_roundbet WHERE status = 'pending' GROUP BY currency")
        for currency, total in cursor.fetchall():
            rows.setdefault(currency, {})["pools"] = int(total or 0)
    return [
        LockedValue(currency=c, wallets=v.get("wallets", 0), escrow=v.get("escrow", 0), pools=v.get("pools", 0))
        for c, v in sorted(rows.items())
    ]
