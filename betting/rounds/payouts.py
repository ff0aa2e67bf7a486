"""The pool's arithmetic (RULES.md, Up/Down daily rounds), exact in integers.

    fee    = floor(loser_pool * FEE_BPS / 10000)
    payout = stake + floor((loser_pool - fee) * stake / winner_pool)     for each winning stake
    dust   = (loser_pool - fee) - sum of the floored shares              booked to `rounding`

so that sum(payouts) + fee + dust == up_pool + down_pool exactly. A pool with no stake on one
side, or a VOID result, refunds every stake. Python integers are exact, so `//` is the floor of
the exact quotient: no float and no Decimal context can round anything here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

BPS = 10_000


@dataclass(frozen=True)
class PoolSplit:
    """How a decided pool divides: who wins, what the fee is, what is shared among the winners."""

    result: str  # "UP", "DOWN" or "VOID"
    up_pool: int
    down_pool: int
    fee: int
    distributable: int  # loser_pool - fee

    @property
    def refund(self) -> bool:
        return self.result == "VOID"

    @property
    def winner_pool(self) -> int:
        return {"UP": self.up_pool, "DOWN": self.down_pool}.get(self.result, 0)

    @property
    def loser_pool(self) -> int:
        return {"UP": self.down_pool, "DOWN": self.up_pool}.get(self.result, 0)

    def payout(self, *, side: str, stake: int) -> int:
        """What one stake gets back."""
        if self.refund:
            return stake
        if side != self.result:
            return 0
        return stake + self.distributable * stake // self.winner_pool


def pool_split(*, up_pool: int, down_pool: int, result: str, fee_bps: int) -> PoolSplit:
    """Decide the split; a pool with an empty side is void whatever the prices said."""
    if up_pool < 0 or down_pool < 0 or not 0 <= fee_bps <= BPS:
        raise ValueError("pools are non-negative and the fee is 0 to 10000 bps")
    if result not in ("UP", "DOWN", "VOID"):
        raise ValueError(f"unknown result {result!r}")
    if result == "VOID" or up_pool == 0 or down_pool == 0:
        return PoolSplit("VOID", up_pool, down_pool, fee=0, distributable=0)
    loser_pool = down_pool if result == "UP" else up_pool
    fee = loser_pool * fee_bps // BPS
    return PoolSplit(result, up_pool, down_pool, fee=fee, distributable=loser_pool - fee)


@dataclass
class Settlement:
    """Every stake's payout, the fee and the dust: the whole pool, accounted for."""

    split: PoolSplit
    payouts: dict[int, int] = field(default_factory=dict)  # bet id -> payout (0 for a loss)
    dust: int = 0

    @property
    def paid(self) -> int:
        return sum(self.payouts.values())


def settle_pool(*, stakes: Iterable[tuple[int, str, int]], result: str, fee_bps: int) -> Settlement:
    """Payouts for `(bet_id, side, stake)` triples; the reference the bulk settlement must match."""
    stakes = list(stakes)
    up_pool = sum(amount for _, side, amount in stakes if side == "UP")
    down_pool = sum(amount for _, side, amount in stakes if side == "DOWN")
    split = pool_split(up_pool=up_pool, down_pool=down_pool, result=result, fee_bps=fee_bps)
    settlement = Settlement(split=split)
    for bet_id, side, amount in stakes:
        settlement.payouts[bet_id] = split.payout(side=side, stake=amount)
    if not split.refund:
        shares = settlement.paid - split.winner_pool
        settlement.dust = split.distributable - shares
    return settlement
