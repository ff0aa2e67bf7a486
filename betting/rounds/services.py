"""Writes of the round lifecycle before settlement: open, lock, bets, operator prices.

Settlement lives in `settlement.py`. Every public service opens its own durable transaction and
writes the `round.updated` event inside it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation

import structlog
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from betting.models import ManualPrice, Round, RoundBet, Side
from betting.rounds import nyse
from betting.rounds.events import round_updated_emit, topic_for
from betting.rounds.selectors import round_for_betting, round_get, round_pools_live
from core.errors import Conflict, ValidationFailed
from core.metrics import ROUND_BETS_PLACED
from ledger.currencies import get_currency, validate_amount
from ledger.models import Account
from ledger.services import Entry, Line, entry_post, system_account, wallet_for
from realtime.outbox import events_emit

log = structlog.get_logger(__name__)


# --- Open and lock -----------------------------------------------------------------------------


def round_open(
    *, day: date | None = None, asset: str | None = None, currency: str | None = None, now: datetime | None = None
) -> Round:
    """Open the round of trading day `day` (default: the one taking bets now); idempotent.

    Refuses a day the exchange does not trade and a round whose lock time has passed. The
    reference price is copied from the previous trading day's round when that one has closed.
    """
    now = now or timezone.now()
    day = day or nyse.current_trading_day(now)
    times = nyse.round_times(day)
    asset = (asset or settings.ROUNDS_ASSET).upper()
    currency = currency or settings.ROUNDS_CURRENCY
    get_currency(currency)

    existing = Round.objects.filter(code=times.code).first()
    if existing is not None:
        if existing.asset != asset or existing.currency != currency:
            raise Conflict(
                f"Round {times.code} is already open on {existing.asset} in {existing.currency}.",
                code="round_exists",
                details={"code": times.code},
            )
        return existing
    if now >= times.lock_at:
        raise Conflict(
            f"Round {times.code} would lock at {times.lock_at.isoformat()}, which has passed.",
            code="round_in_past",
            details={"code": times.code, "lock_at": times.lock_at.isoformat()},
        )
    previous = Round.objects.filter(trading_date=times.reference_date, asset=asset, closing_price__isnull=False).first()
    try:
        with transaction.atomic(durable=True):
            opened = Round.objects.create(
                code=times.code,
                trading_date=day,
                asset=asset,
                currency=currency,
                open_at=times.open_at,
                lock_at=times.lock_at,
                close_at=times.close_at,
                settle_at=times.settle_at,
                void_after=times.void_after,
                early_close=times.early_close,
                reference_date=times.reference_date,
                reference_price=previous.closing_price if previous else None,
                reference_source=f"round:{previous.code}" if previous else "",
                created_at=now,
            )
            round_updated_emit(opened, change="opened")
    except IntegrityError:
        return round_get(code=times.code)  # opened concurrently
    log.info("round.opened", code=opened.code, asset=asset, lock_at=opened.lock_at.isoformat())
    return opened


def round_lock(*, code: str, now: datetime | None = None) -> Round:
    """OPEN -> LOCKED, and snapshot the pools; a round already past OPEN is returned as it is.

    The UPDATE waits for every bet holding the round row FOR SHARE to commit, and a bet that
    comes after reads LOCKED; the pools summed after the UPDATE, in the same transaction, are
    therefore final.
    """
    now = now or timezone.now()
    target = round_get(code=code)
    with transaction.atomic(durable=True):
        changed = Round.objects.filter(pk=target.pk, status=Round.Status.OPEN).update(
            status=Round.Status.LOCKED, locked_at=now
        )
        if not changed:
            return Round.objects.get(pk=target.pk)
        pools = round_pools_live(round_id=target.pk)
        Round.objects.filter(pk=target.pk).update(
            up_pool=pools.up, down_pool=pools.down, up_bets=pools.up_bets, down_bets=pools.down_bets
        )
        locked = Round.objects.get(pk=target.pk)
        round_updated_emit(locked, change="locked", pools=pools)
    log.info("round.locked", code=code, up_pool=pools.up, down_pool=pools.down)
    return locked


def rounds_lock_due(*, now: datetime | None = None) -> list[str]:
    """Lock every open round whose lock time has come (the beat task)."""
    now = now or timezone.now()
    codes = list(
        Round.objects.filter(status=Round.Status.OPEN, lock_at__lte=now)
        .order_by("lock_at")
        .values_list("code", flat=True)
    )
    for code in codes:
        round_lock(code=code, now=now)
    return codes


# --- Bets -------------------------------------------------------------------------------------


def _replay(bet: RoundBet, *, side: str, amount: int, code: str | None) -> RoundBet:
    if bet.side != side or bet.amount != amount or (code is not None and bet.round.code != code):
        raise Conflict(
            "This idempotency key was used for another bet.",
            code="idempotency_key_reused",
            details={"bet": bet.pk},
        )
    return bet


def _round_for_share(round_id: int) -> tuple[str, datetime]:
    # FOR SHARE, not FOR KEY SHARE: the lock's UPDATE must wait for this bet to commit. Bets
    # share the lock, so they do not wait for one another.
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, lock_at FROM betting_round WHERE id = %s FOR SHARE", [round_id])
        status, lock_at = cursor.fetchone()
    return str(status), lock_at


def round_bet_place(
    *,
    user_id: int,
    side: str,
    amount: int,
    idempotency_key: str,
    code: str | None = None,
) -> RoundBet:
    """Stake `amount` on `side` of a round (the one taking bets, or `code`): wallet -> escrow.

    Accepted only while the round is OPEN and the clock is before its lock time. The caller's
    idempotency key makes a repeat return the first bet; the ledger key is
    `round:<code>:bet:<bet id>`.
    """
    if side not in Side.values:
        raise ValidationFailed("side is UP or DOWN.", code="invalid_side", details={"side": side})
    amount = validate_amount(amount)
    if not settings.ROUNDS_MIN_BET <= amount <= settings.ROUNDS_MAX_BET:
        raise ValidationFailed(
            f"A stake is {settings.ROUNDS_MIN_BET} to {settings.ROUNDS_MAX_BET} minor units.",
            code="stake_out_of_range",
            details={"min": settings.ROUNDS_MIN_BET, "max": settings.ROUNDS_MAX_BET},
        )
    if not idempotency_key or len(idempotency_key) > 255:
        raise ValidationFailed("A bet needs an idempotency key of 1 to 255 characters.", code="idempotency_key_invalid")
    if code is not None:
        nyse.parse_code(code)

    existing = RoundBet.objects.select_related("round").filter(user_id=user_id, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replay(existing, side=side, amount=amount, code=code)

    target = round_get(code=code) if code is not None else round_for_betting(now=timezone.now())
    if target is None:
        raise Conflict("No round is open for bets.", code="round_not_open")
    try:
        with transaction.atomic(durable=True):
            status, lock_at = _round_for_share(target.pk)
            if status != Round.Status.OPEN:
                raise Conflict(
                    f"Round {target.code} is {status}: no more bets.",
                    code="round_not_open",
                    details={"code": target.code, "status": status},
                )
            if timezone.now() >= lock_at:
                raise Conflict(
                    f"Betting on round {target.code} closed at {lock_at.astimezone(nyse.NEW_YORK).isoformat()}.",
                    code="betting_closed",
                    details={"code": target.code, "lock_at": lock_at.isoformat()},
                )
            bet = RoundBet.objects.create(
                round=target,
                user_id=user_id,
                side=side,
                amount=amount,
                currency=target.currency,
                idempotency_key=idempotency_key,
            )
            wallet = wallet_for(user_id=user_id, currency=target.currency)
            escrow = system_account(kind=Account.Kind.BETS_ESCROW, currency=target.currency)
            tx_id = entry_post(
                Entry(
                    key=f"round:{target.code}:bet:{bet.pk}",
                    kind="round_bet",
                    lines=[Line(wallet.pk, -amount, target.currency), Line(escrow.pk, amount, target.currency)],
                    reference=f"round:{target.code}",
                    metadata={"round": target.code, "bet": bet.pk, "side": side},
                )
            )
            RoundBet.objects.filter(pk=bet.pk).update(stake_transaction_id=tx_id)
            bet.stake_transaction_id = tx_id
            events_emit(
                [
                    (
                        "round.updated",
                        {"code": target.code, "status": status, "change": "bet", "side": side, "amount": amount},
                        None,
                        topic_for(target),
                    ),
                    (
                        "balance.updated",
                        {"currency": target.currency, "reason": "round_bet", "transaction": tx_id, "amount": -amount},
                        user_id,
                        "",
                    ),
                ]
            )
    except IntegrityError:
        raced = (
            RoundBet.objects.select_related("round").filter(user_id=user_id, idempotency_key=idempotency_key).first()
        )
        if raced is None:
            raise
        return _replay(raced, side=side, amount=amount, code=code)
    ROUND_BETS_PLACED.labels(target.currency, side).inc()
    return bet


# --- Operator prices --------------------------------------------------------------------------


def manual_price_validate(*, asset: str, session_date: date, price: Decimal | str) -> tuple[str, Decimal]:
    """Check an operator's close before it is stored; returns the asset and price as kept."""
    try:
        value = Decimal(str(price))
    except InvalidOperation:
        raise ValidationFailed(f"{price!r} is not a price.", code="invalid_price") from None
    if not value.is_finite() or value <= 0:
        raise ValidationFailed("A price is a positive number.", code="invalid_price")
    if not nyse.is_trading_day(session_date):
        raise ValidationFailed(f"{session_date} is not a trading day.", code="not_a_trading_day")
    asset = asset.upper()
    uses = Q(trading_date=session_date) | Q(reference_date=session_date)
    if Round.objects.filter(uses, asset=asset).exclude(result="").exists():
        raise Conflict(
            f"A round using the close of {asset} on {session_date} is already decided.", code="price_already_used"
        )
    return asset, value


def manual_price_set(
    *, asset: str, session_date: date, price: Decimal | str, entered_by: str, note: str = ""
) -> ManualPrice:
    """An operator's official close for `asset` on `session_date`; wins over the oracle.

    Refused once a round that uses that close has been decided: a settled round is final.
    """
    asset, value = manual_price_validate(asset=asset, session_date=session_date, price=price)
    # Not durable: the admin's add form calls this inside its own transaction.
    with transaction.atomic():
        entry, _ = ManualPrice.objects.update_or_create(
            asset=asset,
            session_date=session_date,
            defaults={"price": value, "entered_by": entered_by, "note": note[:255], "created_at": timezone.now()},
        )
    log.info("round.manual_price", asset=asset, date=session_date.isoformat(), price=str(value), by=entered_by)
    return entry
