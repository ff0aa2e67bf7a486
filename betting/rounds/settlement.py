"""Settling a round: prices, the decision, and the payout of every stake.

Three steps, each safe to repeat and to run from two workers at once:

1. Prices (`prices.py`; network, outside any transaction): the reference (the previous trading day's close,
   from that day's round when it has one) and the day's close, through the configured oracle
   unless an operator entered the price. Every call is recorded as a `PriceFetch`.
2. The decision, one compare-and-set on the round (LOCKED with no result -> result): UP when
   the close is above the reference, else DOWN; VOID when a side has no stake, when an operator
   says so, or when the oracle is still silent at `void_after`. The fee is fixed here.
3. The payout, in chunks of `ROUNDS_SETTLE_CHUNK` bets, each one database transaction under the
   round's advisory lock: the chunk's winners (or, for a void, every stake) are credited with
   one set-based `entries_post` (keys `round:<code>:payout:<bet>` / `round:<code>:refund:<bet>`,
   escrow -> wallet, paying off a receivable first), and their rows are moved by one UPDATE.
   The last transaction marks the losers, books the fee (`fees`) and the dust (`rounding`),
   checks that payouts + fee + dust equal the pool to the unit, and ends the round.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from betting.models import Round, RoundBet
from betting.rounds.events import round_updated_emit
from betting.rounds.oracles import PriceOracle, oracle_from_settings
from betting.rounds.payouts import PoolSplit, pool_split
from betting.rounds.prices import round_prices_resolve
from betting.rounds.selectors import round_get, round_pools_live
from betting.rounds.services import round_lock
from core.errors import Conflict, ValidationFailed
from core.idempotency import advisory_key
from core.metrics import ROUND_BETS_SETTLED, ROUND_SETTLE_SECONDS
from ledger.models import Account
from ledger.services import Entry, Line, entries_post, system_account, wallet_for
from realtime.outbox import events_emit

log = structlog.get_logger(__name__)

AUTO = "AUTO"
RESULTS = (AUTO, "UP", "DOWN", "VOID")


@dataclass
class SettleOutcome:
    round: Round
    state: str  # settled | void | waiting | already
    message: str
    bets_paid: int = 0


# --- 2. Decision (step 1, the prices, is prices.py) -------------------------------------------


def _decide(round: Round, *, result: str, reason: str, by: str) -> Round:
    """LOCKED without a result -> decided; the loser pool's fee is fixed now."""
    with transaction.atomic(durable=True):
        pools = round_pools_live(round_id=round.pk)
        split = pool_split(up_pool=pools.up, down_pool=pools.down, result=result, fee_bps=settings.FEE_BPS)
        if split.refund and result != "VOID":
            reason = Round.VoidReason.ONE_SIDED
        changed = Round.objects.filter(pk=round.pk, status=Round.Status.LOCKED, result="").update(
            result=split.result,
            void_reason=reason if split.refund else "",
            decided_by=by[:150],
            decided_at=timezone.now(),
            up_pool=pools.up,
            down_pool=pools.down,
            up_bets=pools.up_bets,
            down_bets=pools.down_bets,
            fee=split.fee,
            next_attempt_at=None,
            last_error="",
        )
        decided = Round.objects.get(pk=round.pk)
        if changed:
            round_updated_emit(decided, change="decided", pools=pools)
            log.info("round.decided", code=round.code, result=split.result, reason=reason, by=by)
    return decided


def _split_of(round: Round) -> PoolSplit:
    loser_pool = {"UP": round.down_pool, "DOWN": round.up_pool}.get(round.result, 0)
    return PoolSplit(round.result, round.up_pool, round.down_pool, fee=round.fee, distributable=loser_pool - round.fee)


def _schedule_retry(round: Round, *, error: str) -> Round:
    now = timezone.now()
    next_at = min(now + timedelta(seconds=settings.ROUNDS_SETTLE_RETRY_S), round.void_after)
    Round.objects.filter(pk=round.pk, result="").update(
        settle_attempts=F("settle_attempts") + 1, next_attempt_at=next_at, last_error=error[:2000]
    )
    return Round.objects.get(pk=round.pk)


# --- 3. Payout --------------------------------------------------------------------------------


def _advisory_lock(round: Round) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key(f"round:{round.code}")])


def _user_accounts(user_ids: Sequence[int], currency: str) -> tuple[dict[int, int], dict[int, tuple[int, int]]]:
    """Lock the users' wallets and receivables (id order); wallet ids and (receivable id, owed)."""
    wallets: dict[int, int] = {}
    receivables: dict[int, tuple[int, int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT id, user_id, kind, balance FROM ledger_account
               WHERE currency = %s AND user_id = ANY(%s) AND kind IN ('wallet', 'receivable')
               ORDER BY id FOR UPDATE""",
            [currency, list(user_ids)],
        )
        for account_id, user_id, kind, balance in cursor.fetchall():
            if kind == Account.Kind.WALLET:
                wallets[user_id] = account_id
            else:
                receivables[user_id] = (account_id, -balance)
    for user_id in user_ids:
        if user_id not in wallets:  # cannot happen for a stake paid from it; be whole anyway
            wallets[user_id] = wallet_for(user_id=user_id, currency=currency).pk
    return wallets, receivables


Cursor = tuple[int, int]  # (user id, bet id): where the walk over a side's bets has got to


def _pay_chunk(round_id: int, *, side: str, after: Cursor, chunk: int) -> tuple[int, Cursor]:
    """Pay the next `chunk` pending stakes of `side` after `after`, player by player.

    Returns how many were paid (0: none left on that side) and where the walk stopped.
    """
    with transaction.atomic(durable=True):
        current = Round.objects.get(pk=round_id)
        _advisory_lock(current)
        current = Round.objects.get(pk=round_id)
        if current.status != Round.Status.LOCKED or not current.result:
            return 0, after
        split = _split_of(current)
        if not split.refund and side != current.result:
            return 0, after
        with connection.cursor() as cursor:
            cursor.execute(
                """SELECT id, user_id, side, amount FROM betting_roundbet
                   WHERE round_id = %s AND side = %s AND status = 'pending' AND (user_id, id) > (%s, %s)
                   ORDER BY user_id, id LIMIT %s""",
                [round_id, side, after[0], after[1], chunk],
            )
            bets: list[tuple[int, int, str, int]] = cursor.fetchall()
        if not bets:
            return 0, after
        currency = current.currency
        kind, new_status = ("refund", RoundBet.Status.REFUNDED) if split.refund else ("payout", RoundBet.Status.WON)
        escrow = system_account(kind=Account.Kind.BETS_ESCROW, currency=currency).pk
        wallets, receivables = _user_accounts(sorted({b[1] for b in bets}), currency)
        owed = {user_id: debt for user_id, (_, debt) in receivables.items()}

        entries: list[Entry] = []
        payouts: list[int] = []
        credited: dict[int, int] = defaultdict(int)
        for bet_id, user_id, bet_side, amount in bets:
            payout = split.payout(side=bet_side, stake=amount)
            payouts.append(payout)
            to_debt = min(owed.get(user_id, 0), payout)
            lines = [Line(escrow, -payout, currency)]
            if to_debt:
                owed[user_id] -= to_debt
                lines.append(Line(receivables[user_id][0], to_debt, currency))
            if payout - to_debt:
                lines.append(Line(wallets[user_id], payout - to_debt, currency))
            entries.append(
                Entry(
                    key=f"round:{current.code}:{kind}:{bet_id}",
                    kind=f"round_{kind}",
                    lines=lines,
                    reference=f"round:{current.code}",
                    metadata={"round": current.code, "bet": bet_id, "stake": amount},
                )
            )
            credited[user_id] += payout
        posted = entries_post(entries)

        now = timezone.now()
        ids = [b[0] for b in bets]
        with connection.cursor() as cursor:
            cursor.execute(
                """UPDATE betting_roundbet b
                   SET status = %s, payout = v.payout, payout_transaction_id = v.tx, settled_at = %s
                   FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS v(id, payout, tx)
                   WHERE b.id = v.id AND b.status = 'pending'""",
                [new_status, now, ids, payouts, [posted.id_for(e.key) for e in entries]],
            )
            if cursor.rowcount != len(ids):
                raise RuntimeError(f"round {current.code}: {len(ids) - cursor.rowcount} bet(s) changed under payout")
        events_emit(
            [
                (
                    "balance.updated",
                    {"currency": currency, "reason": f"round_{kind}", "round": current.code, "amount": amount},
                    user_id,
                    "",
                )
                for user_id, amount in credited.items()
            ]
        )
    ROUND_BETS_SETTLED.labels(new_status).inc(len(bets))
    return len(bets), (bets[-1][1], bets[-1][0])


def _finish(round_id: int) -> Round:
    """Mark the losers, book fee and dust, prove the pool balances, and end the round."""
    with transaction.atomic(durable=True):
        current = Round.objects.get(pk=round_id)
        _advisory_lock(current)
        current = Round.objects.select_for_update().get(pk=round_id)
        if current.status != Round.Status.LOCKED or not current.result:
            return current
        split = _split_of(current)
        pending = RoundBet.objects.filter(round_id=round_id, status=RoundBet.Status.PENDING)
        if split.refund:
            if pending.exists():
                raise RuntimeError(f"round {current.code}: stakes left unrefunded")
        else:
            if pending.filter(side=current.result).exists():
                raise RuntimeError(f"round {current.code}: winners left unpaid")
            lost = pending.update(status=RoundBet.Status.LOST, payout=0, settled_at=timezone.now())
            ROUND_BETS_SETTLED.labels(RoundBet.Status.LOST).inc(lost)

        totals = RoundBet.objects.filter(round_id=round_id).aggregate(
            staked=Sum("amount"), paid=Sum("payout"), n=Count("id")
        )
        staked, paid = int(totals["staked"] or 0), int(totals["paid"] or 0)
        if staked != current.total_pool:
            raise RuntimeError(f"round {current.code}: {staked} staked but the pool at lock was {current.total_pool}")
        if split.refund:
            dust = 0
            if paid != staked:
                raise RuntimeError(f"round {current.code}: refunded {paid} of {staked}")
        else:
            # Each winner's floor leaves less than one unit behind, so the dust is below their number.
            winners = current.up_bets if current.result == "UP" else current.down_bets
            dust = split.distributable - (paid - split.winner_pool)
            if not 0 <= dust < max(winners, 1):
                raise RuntimeError(f"round {current.code}: payouts {paid} leave dust {dust} for {winners} winner(s)")
        escrow = system_account(kind=Account.Kind.BETS_ESCROW, currency=current.currency).pk
        entries = []
        for kind, amount in ((Account.Kind.FEES, current.fee), (Account.Kind.ROUNDING, dust)):
            if amount:
                target = system_account(kind=kind, currency=current.currency).pk
                entries.append(
                    Entry(
                        key=f"round:{current.code}:{'fee' if kind == Account.Kind.FEES else 'dust'}",
                        kind=f"round_{'fee' if kind == Account.Kind.FEES else 'dust'}",
                        lines=[Line(escrow, -amount, current.currency), Line(target, amount, current.currency)],
                        reference=f"round:{current.code}",
                        metadata={"round": current.code},
                    )
                )
        if entries:
            entries_post(entries)
        left = _escrow_left(current, escrow)
        if left != 0:
            raise RuntimeError(f"round {current.code}: {left} would stay in escrow")
        final = Round.Status.VOID if split.refund else Round.Status.SETTLED
        Round.objects.filter(pk=round_id, status=Round.Status.LOCKED).update(
            status=final, dust=dust, paid_out=paid, settled_at=timezone.now()
        )
        finished = Round.objects.get(pk=round_id)
        round_updated_emit(finished, change=final)
    log.info("round.finished", code=finished.code, status=str(final), paid=paid, fee=finished.fee, dust=dust)
    return finished


def _escrow_left(round: Round, escrow_id: int) -> int:
    """What this round's own ledger transactions leave in escrow: zero once it is paid out."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT COALESCE(sum(p.amount), 0) FROM ledger_transaction t
               JOIN ledger_posting p ON p.transaction_id = t.id
               WHERE t.reference = %s AND p.account_id = %s""",
            [f"round:{round.code}", escrow_id],
        )
        return int(cursor.fetchone()[0])


def round_pay_out(*, round: Round, chunk: int | None = None) -> tuple[Round, int]:
    """Pay a decided round to the end; resumes where an interrupted run stopped."""
    chunk = chunk or settings.ROUNDS_SETTLE_CHUNK
    started = time.perf_counter()
    paid = 0
    # A void refunds both sides; otherwise only the winning side is paid (the losers are marked
    # in `_finish`). Each chunk starts where the last one stopped.
    for side in ("UP", "DOWN") if round.result == "VOID" else (round.result,):
        after: Cursor = (0, 0)
        while True:
            n, after = _pay_chunk(round.pk, side=side, after=after, chunk=chunk)
            if not n:
                break
            paid += n
    finished = _finish(round.pk)
    ROUND_SETTLE_SECONDS.observe(time.perf_counter() - started)
    return finished, paid


# --- The service ------------------------------------------------------------------------------


def round_settle(
    *, code: str, result: str = AUTO, by: str = "oracle", oracle: PriceOracle | None = None, chunk: int | None = None
) -> SettleOutcome:
    """Settle round `code`: AUTO from the oracle, or an operator's UP, DOWN or VOID.

    AUTO waits for `settle_at` and, while the oracle has no price, schedules another attempt
    until `void_after`, when the round is voided and every stake refunded. A decided round is
    final: asking for another result is a 409; asking again for the same one finishes the
    payout if it was interrupted.
    """
    result = result.upper()
    if result not in RESULTS:
        raise ValidationFailed(f"result is one of {', '.join(RESULTS)}.", code="invalid_result")
    current = round_get(code=code)
    if current.result and result != AUTO and result != current.result:
        raise Conflict(
            f"Round {code} is already decided {current.result}.",
            code="round_already_decided",
            details={"code": code, "result": current.result},
        )
    if current.status in (Round.Status.SETTLED, Round.Status.VOID):
        return SettleOutcome(current, "already", f"round {code} is already {current.status}")

    now = timezone.now()
    if current.status == Round.Status.OPEN:
        if result == AUTO and now < current.lock_at:
            raise Conflict(
                f"Round {code} takes bets until {current.lock_at.isoformat()}.",
                code="round_open",
                details={"code": code, "lock_at": current.lock_at.isoformat()},
            )
        current = round_lock(code=code)

    if not current.result:
        if result == AUTO:
            current, waiting = _decide_from_oracle(current, oracle=oracle, now=now)
            if waiting:
                return SettleOutcome(current, "waiting", waiting)
        else:
            reason = Round.VoidReason.OPERATOR if result == "VOID" else ""
            current = _decide(current, result=result, reason=reason, by=by)
            if current.result != result and current.void_reason != Round.VoidReason.ONE_SIDED:
                # Another settler decided first; its payout is the one that runs.
                raise Conflict(
                    f"Round {code} was decided {current.result} by {current.decided_by} meanwhile.",
                    code="round_already_decided",
                    details={"code": code, "result": current.result},
                )

    finished, paid = round_pay_out(round=current, chunk=chunk)
    return SettleOutcome(finished, finished.status, f"round {code} {finished.status}: {paid} bet(s) paid", paid)


def _decide_from_oracle(current: Round, *, oracle: PriceOracle | None, now: datetime) -> tuple[Round, str]:
    if now < current.settle_at:
        raise Conflict(
            f"Round {current.code} settles from {current.settle_at.isoformat()}.",
            code="too_early",
            details={"code": current.code, "settle_at": current.settle_at.isoformat()},
        )
    current = round_prices_resolve(round=current, oracle=oracle or oracle_from_settings())
    if current.reference_price is not None and current.closing_price is not None:
        direction = "UP" if current.closing_price > current.reference_price else "DOWN"
        return _decide(current, result=direction, reason="", by="oracle"), ""
    if timezone.now() >= current.void_after:
        return _decide(current, result="VOID", reason=Round.VoidReason.ORACLE_SILENT, by="oracle"), ""
    missing = " and ".join(
        name
        for name, value in (("reference", current.reference_price), ("close", current.closing_price))
        if value is None
    )
    current = _schedule_retry(current, error=f"no {missing} price yet")
    return current, f"waiting for the {missing} price; next attempt at {current.next_attempt_at}"


def rounds_settle_due(*, now: datetime | None = None) -> list[int]:
    """Claim every round due for a settlement attempt (the beat task enqueues each)."""
    now = now or timezone.now()
    claimed = []
    candidates = Round.objects.filter(
        status__in=[Round.Status.OPEN, Round.Status.LOCKED], settle_at__lte=now
    ).values_list("pk", "next_attempt_at")
    for pk, next_attempt_at in candidates:
        if next_attempt_at is not None and next_attempt_at > now:
            continue
        # Claim it for one retry interval so the next sweep does not enqueue it again.
        claim_until = now + timedelta(seconds=settings.ROUNDS_SETTLE_RETRY_S)
        if Round.objects.filter(pk=pk, next_attempt_at=next_attempt_at).update(next_attempt_at=claim_until):
            claimed.append(pk)
    return claimed
