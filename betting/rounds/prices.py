"""Closing prices for a round: the operator's entry or the configured oracle, every call kept.

Network calls happen here, outside any database transaction; each answer (or failure) is
written as a `PriceFetch` in its own short transaction.
"""

from __future__ import annotations

import time
from typing import Any

import structlog
from django.db import transaction
from django.utils import timezone

from betting.models import PriceFetch, Round
from betting.rounds import nyse
from betting.rounds.events import round_updated_emit
from betting.rounds.oracles import OracleError, PriceOracle, Quote, oracle_from_settings
from betting.rounds.oracles.manual import ManualOracle
from core.metrics import ROUND_ORACLE_FETCHES

log = structlog.get_logger(__name__)


def price_fetch(*, round: Round, purpose: str, oracle: PriceOracle) -> Quote | None:
    """One close from the operator's entry or the oracle, recorded whatever happens."""
    session_date = round.trading_date if purpose == "close" else round.reference_date
    sources: list[PriceOracle] = [oracle] if oracle.name == "manual" else [ManualOracle(), oracle]
    for source in sources:
        started = time.perf_counter()
        try:
            quote = source.fetch_close(asset=round.asset, session_date=session_date)
        except OracleError as exc:
            if source is not oracle and exc.outcome == "not_available":
                continue  # no operator entry: ask the oracle, and record only that
            _record_fetch(
                round,
                purpose,
                source.name,
                session_date,
                started,
                outcome=exc.outcome,
                message=exc.message,
                detail=exc.detail,
            )
            return None
        _record_fetch(round, purpose, source.name, session_date, started, outcome="ok", quote=quote)
        return quote
    return None  # pragma: no cover - the oracle is always the last source


def _record_fetch(
    round: Round,
    purpose: str,
    oracle_name: str,
    session_date: Any,
    started: float,
    *,
    outcome: str,
    quote: Quote | None = None,
    message: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    PriceFetch.objects.create(
        round=round,
        purpose=purpose,
        oracle=oracle_name,
        asset=round.asset,
        session_date=session_date,
        outcome=outcome,
        price=quote.price if quote else None,
        as_of=quote.as_of if quote else None,
        message=message[:2000],
        detail=(quote.detail if quote else detail) or {},
        elapsed_ms=_ms(time.perf_counter() - started),
    )
    ROUND_ORACLE_FETCHES.labels(oracle_name, outcome).inc()
    log.info(
        "round.price_fetch", code=round.code, purpose=purpose, oracle=oracle_name, outcome=outcome, message=message
    )


def _ms(seconds: float) -> float:
    return float(f"{seconds * 1000:.1f}")


def round_prices_resolve(*, round: Round, oracle: PriceOracle, close: bool = True) -> Round:
    """Fill in the reference (and, if `close`, the closing price) the round still lacks."""
    updates: dict[str, Any] = {}
    if round.reference_price is None:
        previous = Round.objects.filter(
            trading_date=round.reference_date, asset=round.asset, closing_price__isnull=False
        ).first()
        if previous is not None:
            updates |= {"reference_price": previous.closing_price, "reference_source": f"round:{previous.code}"}
        else:
            quote = price_fetch(round=round, purpose="reference", oracle=oracle)
            if quote is not None:
                updates |= {"reference_price": quote.price, "reference_source": _source(quote, oracle)}
    if close and round.closing_price is None:
        quote = price_fetch(round=round, purpose="close", oracle=oracle)
        if quote is not None:
            updates |= {"closing_price": quote.price, "closing_source": _source(quote, oracle)}
    if not updates:
        return round
    with transaction.atomic(durable=True):
        # A decided round keeps the prices it was decided on.
        if Round.objects.filter(pk=round.pk, result="").update(**updates):
            fresh = Round.objects.get(pk=round.pk)
            round_updated_emit(fresh, change="prices")
            return fresh
    return Round.objects.get(pk=round.pk)


def round_reference_prefetch(*, round_id: int) -> Round:
    """Show players the reference early: fetch it once the previous day's close is out.

    Waits while the previous day's round is still settling, since its close becomes the
    reference without another call.
    """
    current = Round.objects.get(pk=round_id)
    if current.reference_price is not None or current.result:
        return current
    previous = Round.objects.filter(trading_date=current.reference_date, asset=current.asset).first()
    if previous is not None and previous.status in (Round.Status.OPEN, Round.Status.LOCKED):
        return current
    if timezone.now() < nyse.round_times(current.reference_date).settle_at:
        return current
    return round_prices_resolve(round=current, oracle=oracle_from_settings(), close=False)


def _source(quote: Quote, oracle: PriceOracle) -> str:
    return "manual" if "manual_price" in quote.detail else oracle.name
