"""Placing a bet slip: every rule of RULES.md, then the slip, its legs, the stake moved from the
wallet to `bets_escrow` (ledger key `bet:place:<slip id>`), the liability and daily-stake
counters and the `bet.placed` event, all in one database transaction.

The catalogue is read without locks: a bet is priced at the odds it read, which the odds policy
accepted. A live bet (any leg in play) is held as AWAITING with its stake in escrow, and
re-validated once its delay has passed (`betting.services.live`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import ParamSpec, TypeVar

import structlog
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone

from betting.models import BetLeg, BetSlip, Selection
from betting.pricing import MAX_LEGS, slip_potential_payout, system_line_count
from betting.selectors import SELECTION_COLUMNS, selection_from_row
from betting.services.catalogue import constraint_name
from betting.services.limits import daily_stake_refusal, liability_reserve, stake_day
from betting.services.rules import (
    PricedLeg,
    daily_stake_limit,
    events_distinct_check,
    leg_check,
    liability_cap,
    odds_check,
    self_exclusion_check,
    stake_limits_check,
)
from core.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from core.metrics import BETS_PLACED, BETS_REFUSED
from core.sql import BIGINT_MAX, bigint_array
from ledger.currencies import get_currency, money, validate_amount
from ledger.models import Account
from ledger.services import Entry, Line, entries_post, system_account, wallet_for
from realtime.outbox import events_emit

log = structlog.get_logger(__name__)

CLIENT_KEY_CONSTRAINT = "slip_user_client_key_unique"
P = ParamSpec("P")


@dataclass(frozen=True)
class LegRequest:
    selection_id: int
    odds: Decimal | None = None


@dataclass(frozen=True)
class Placement:
    slip: BetSlip
    legs: list[BetLeg]
    created: bool


def _refusals_counted(place: Callable[P, Placement]) -> Callable[P, Placement]:
    """Count each refused placement by its error code (tote_bets_refused_total)."""

    @wraps(place)
    def counted(*args: P.args, **kwargs: P.kwargs) -> Placement:
        try:
            return place(*args, **kwargs)
        except ApplicationError as exc:
            BETS_REFUSED.labels(exc.code).inc()
            raise

    return counted


@_refusals_counted
def bet_place(
    *,
    user_id: int,
    slip_type: str,
    stake: int,
    currency: str,
    legs: Sequence[LegRequest],
    idempotency_key: str,
    accept_odds: str = BetSlip.AcceptOdds.BETTER,
    system: str | None = None,
    now: datetime | None = None,
) -> Placement:
    """Place a slip, or return the one this idempotency key already placed."""
    now = now or timezone.now()
    system_k = _request_check(
        slip_type=slip_type, stake=stake, currency=currency, legs=legs, accept_odds=accept_odds, system=system
    )
    if not idempotency_key or len(idempotency_key) > 255:
        raise ValidationFailed(
            "A slip needs an idempotency key of 1 to 255 characters.", code="idempotency_key_invalid"
        )

    def replayed() -> Placement | None:
        return _replay(
            user_id=user_id,
            idempotency_key=idempotency_key,
            slip_type=slip_type,
            stake=stake,
            currency=currency,
            legs=legs,
        )

    context = _placement_context(
        user_id=user_id,
        idempotency_key=idempotency_key,
        currency=currency,
        selection_ids=[leg.selection_id for leg in legs],
    )
    if context.existing_slip_id is not None and (replay := replayed()) is not None:
        return replay

    self_exclusion_check(context.self_excluded_until, now=now)
    priced = _legs_priced(legs, context.selections, accept_odds=accept_odds, now=now)
    odds = [leg.odds for leg in priced]
    potential = slip_potential_payout(kind=slip_type, stake=stake, odds=odds, system_k=system_k)
    stake_limits_check(stake=stake, currency=currency, potential_payout=potential)
    live = any(leg.live for leg in priced)

    try:
        with transaction.atomic(durable=True):
            slip, leg_rows = _slip_write(
                user_id=user_id,
                slip_type=slip_type,
                system_k=system_k,
                stake=stake,
                currency=currency,
                potential=potential,
                priced=priced,
                now=now,
                live=live,
                idempotency_key=idempotency_key,
                accept_odds=accept_odds,
                daily_limit=daily_stake_limit(currency, context.daily_stake_limits),
            )
            tx_id = _stake_to_escrow(slip, wallet_id=context.wallet_id, escrow_id=context.escrow_id)
            liability_reserve(
                selection_ids=[leg.selection.pk for leg in priced],
                currency=currency,
                exposure=potential - stake,
                cap=liability_cap(currency),
            )
            events_emit(
                [
                    ("bet.placed", slip_event_data(slip, priced), user_id, ""),
                    (
                        "balance.updated",
                        {"currency": currency, "reason": "bet.placed", "transaction": tx_id, "amount": -stake},
                        user_id,
                        "",
                    ),
                ]
            )
            if live:
                transaction.on_commit(lambda: _live_confirm_enqueue(slip.pk), robust=True)
    except IntegrityError as exc:
        if constraint_name(exc) != CLIENT_KEY_CONSTRAINT:
            raise
        # The same key raced us and won: answer with its slip.
        if (replay := replayed()) is None:
            raise
        return replay

    BETS_PLACED.labels(slip_type, currency).inc()
    log.info("bet.placed", slip=slip.pk, type=slip_type, stake=stake, currency=currency, live=live)
    return Placement(slip=slip, legs=leg_rows, created=True)


# The day's stake counted against the limit (or not: no row back), the slip and its legs, in one
# statement. The daily counter is the one conditional upsert of `betting.services.limits`; with
# no limit there is nothing to count. Every value is a parameter.
#
# It also sets `plan_cache_mode` for the rest of this transaction only (set_config(..., true)):
# the statements that follow (the ledger's post, the liability, the outbox) are the same small
# writes on every bet, and PostgreSQL, which otherwise plans each of them afresh on every
# execution (a custom plan for the arrays they take), spent more CPU planning the ledger's post
# than running it. Their generic plans are made once per connection.
_SLIP_WRITE = """
WITH day AS (
    INSERT INTO betting_dailystake AS d (user_id, currency, day, amount)
    SELECT %(user)s, %(currency)s, %(day)s, %(stake)s::bigint WHERE %(stake)s::bigint <= %(limit)s::bigint
    ON CONFLICT (user_id, currency, day)
    DO UPDATE SET amount = d.amount + EXCLUDED.amount WHERE d.amount + EXCLUDED.amount <= %(limit)s::bigint
    RETURNING 1
),
slip AS (
    INSERT INTO betting_betslip
        (user_id, type, system_k, system_n, stake, currency, potential_payout, status, payout,
         settlement_version, settled_at, placed_at, accepted_at, accept_after, client_key, accept_odds,
         live, reject_reason)
    VALUES
        (%(user)s, %(type)s, %(system_k)s, %(system_n)s, %(stake)s::bigint, %(currency)s, %(potential)s, %(status)s,
         NULL, 0, NULL, %(placed_at)s, %(accepted_at)s, %(accept_after)s, %(key)s, %(accept_odds)s, %(live)s, '')
    RETURNING id
),
legs AS (
    INSERT INTO betting_betleg (slip_id, selection_id, event_id, odds_placed, odds_requested, live)
    SELECT slip.id, l.selection_id, l.event_id, l.odds_placed, l.odds_requested, l.live
    FROM slip, json_to_recordset(%(legs)s::json)
        AS l(selection_id bigint, event_id bigint, odds_placed numeric, odds_requested numeric, live boolean)
    RETURNING selection_id, id
)
SELECT (SELECT id FROM slip), EXISTS (SELECT 1 FROM day),
       (SELECT json_object_agg(selection_id, id) FROM legs)::text,
       set_config('plan_cache_mode', 'force_generic_plan', true)
"""


def _slip_write(
    *,
    user_id: int,
    slip_type: str,
    system_k: int | None,
    stake: int,
    currency: str,
    potential: int,
    priced: list[PricedLeg],
    now: datetime,
    live: bool,
    idempotency_key: str,
    accept_odds: str,
    daily_limit: int | None,
) -> tuple[BetSlip, list[BetLeg]]:
    """Write the slip and its legs, counting its stake against the day's limit, in one round trip
    inside the caller's transaction; raises the daily limit's refusal (rolling back the slip)."""
    slip = BetSlip(
        user_id=user_id,
        type=str(slip_type),
        system_k=system_k,
        system_n=len(priced) if system_k else None,
        stake=stake,
        currency=currency,
        potential_payout=potential,
        status=str(BetSlip.Status.AWAITING if live else BetSlip.Status.PENDING),
        placed_at=now,
        accepted_at=None if live else now,
        accept_after=now + timedelta(seconds=settings.LIVE_BET_DELAY_S) if live else None,
        client_key=idempotency_key,
        accept_odds=str(accept_odds),
        live=live,
    )
    day = stake_day(now)
    with connection.cursor() as cursor:
        cursor.execute(
            _SLIP_WRITE,
            {
                "user": user_id,
                "currency": currency,
                "day": day,
                "stake": stake,
                "limit": daily_limit,
                "type": slip.type,
                "system_k": slip.system_k,
                "system_n": slip.system_n,
                "potential": potential,
                "status": slip.status,
                "placed_at": slip.placed_at,
                "accepted_at": slip.accepted_at,
                "accept_after": slip.accept_after,
                "key": idempotency_key,
                "accept_odds": slip.accept_odds,
                "live": live,
                # One JSON parameter: psycopg adapts Python lists to arrays at a cost per array.
                "legs": json.dumps(
                    [
                        {
                            "selection_id": leg.selection.pk,
                            "event_id": leg.selection.market.event_id,
                            "odds_placed": str(leg.odds),
                            "odds_requested": None if leg.requested is None else str(leg.requested),
                            "live": leg.live,
                        }
                        for leg in priced
                    ]
                ),
            },
        )
        slip_id, counted, leg_ids, _ = cursor.fetchone()
    if daily_limit is not None and not counted:
        raise daily_stake_refusal(user_id=user_id, currency=currency, day=day, limit=daily_limit)
    slip.pk = slip_id
    _stored(slip)
    ids = {int(selection_id): leg_id for selection_id, leg_id in json.loads(leg_ids).items()}
    legs = []
    for leg in priced:
        row = BetLeg(
            id=ids[leg.selection.pk],
            slip=slip,
            selection=leg.selection,
            event_id=leg.selection.market.event_id,
            odds_placed=leg.odds,
            odds_requested=leg.requested,
            live=leg.live,
        )
        legs.append(_stored(row))
    return slip, legs


M = TypeVar("M", bound=Model)


def _stored(instance: M) -> M:
    """Mark an instance written by hand-made SQL as the ORM marks the ones it saved."""
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def _request_check(
    *, slip_type: str, stake: int, currency: str, legs: Sequence[LegRequest], accept_odds: str, system: str | None
) -> int | None:
    """Validate the shape of the request (400); returns k of a system k/n."""
    if slip_type not in BetSlip.Type.values:
        raise ValidationFailed(f"Unknown slip type {slip_type!r}.", code="invalid_slip_type")
    if accept_odds not in BetSlip.AcceptOdds.values:
        raise ValidationFailed(f"Unknown odds policy {accept_odds!r}.", code="invalid_accept_odds")
    get_currency(currency)
    validate_amount(stake, field="stake")
    n = len(legs)
    max_legs = min(settings.BET_MAX_LEGS, MAX_LEGS)
    if len({leg.selection_id for leg in legs}) != n:
        raise ValidationFailed("A selection appears twice in the slip.", code="duplicate_selection")
    if accept_odds != BetSlip.AcceptOdds.ANY and any(leg.odds is None for leg in legs):
        raise ValidationFailed("Each leg needs the odds the player saw.", code="odds_required")
    k: int | None = None
    if slip_type == BetSlip.Type.SINGLE and n != 1:
        raise ValidationFailed("A single has exactly one leg.", code="invalid_leg_count", details={"legs": n})
    if slip_type == BetSlip.Type.PARLAY and not 2 <= n <= max_legs:
        raise ValidationFailed(
            f"A parlay has 2 to {max_legs} legs.", code="invalid_leg_count", details={"legs": n, "max": max_legs}
        )
    if slip_type == BetSlip.Type.SYSTEM:
        k, system_n = _system_parse(system)
        if system_n != n or not 3 <= n <= max_legs or not 2 <= k < n:
            raise ValidationFailed(
                f"A system k/n has n equal to its legs (3 to {max_legs}) and 2 <= k < n.",
                code="invalid_system",
                details={"system": system, "legs": n},
            )
        lines = system_line_count(n, k)
        if stake % lines:
            raise ValidationFailed(
                f"A system {k}/{n} stake must divide exactly into its {lines} lines.",
                code="system_stake_indivisible",
                details={"lines": lines, "stake": money(stake, currency)},
            )
    elif system:
        raise ValidationFailed("Only a system slip names k/n.", code="invalid_system")
    return k


def _system_parse(system: str | None) -> tuple[int, int]:
    try:
        k_text, n_text = (system or "").split("/")
        return int(k_text), int(n_text)
    except ValueError:
        raise ValidationFailed('A system slip names k/n, e.g. "2/3".', code="invalid_system") from None


def _legs_priced(
    legs: Sequence[LegRequest], found: dict[int, Selection], *, accept_odds: str, now: datetime
) -> list[PricedLeg]:
    ids = [leg.selection_id for leg in legs]
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound("No such selection.", code="selection_not_found", details={"selections": missing})
    selections = [found[i] for i in ids]
    live = [leg_check(selection, now=now) for selection in selections]
    events_distinct_check(selections)
    odds_check(accept_odds, [(found[leg.selection_id], leg.odds) for leg in legs])
    return [
        PricedLeg(selection=selection, requested=leg.odds, odds=selection.odds, live=is_live)
        for selection, leg, is_live in zip(selections, legs, live, strict=True)
    ]


@dataclass(frozen=True)
class _Context:
    existing_slip_id: int | None
    self_excluded_until: datetime | None
    daily_stake_limits: dict[str, int]
    wallet_id: int
    escrow_id: int
    selections: dict[int, Selection]


def _placement_context(*, user_id: int, idempotency_key: str, currency: str, selection_ids: list[int]) -> _Context:
    """What placement needs to know before it starts, in one round trip: a slip this key already
    placed, the player's own limits, the two ledger accounts the stake moves between (made when
    missing), and the selections with their markets and events (one row each; a single row of
    nulls when none exists)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT ctx.*, {SELECTION_COLUMNS}
            FROM (
                SELECT
                    (SELECT id FROM betting_betslip WHERE user_id = %(user)s AND client_key = %(key)s),
                    limits.self_excluded_until,
                    limits.daily_stake_limits,
                    (SELECT id FROM ledger_account
                      WHERE user_id = %(user)s AND kind = 'wallet' AND currency = %(currency)s),
                    (SELECT id FROM ledger_account
                      WHERE user_id IS NULL AND kind = 'bets_escrow' AND currency = %(currency)s)
                FROM (SELECT 1) AS one
                LEFT JOIN betting_playerlimits AS limits ON limits.user_id = %(user)s
            ) AS ctx
            LEFT JOIN (
                betting_selection s
                JOIN betting_market m ON m.id = s.market_id
                JOIN betting_event e ON e.id = m.event_id
            ) ON s.id = ANY(%(selections)s::bigint[])
            """,  # noqa: S608 - a constant column list; every value is a parameter
            {
                "user": user_id,
                "key": idempotency_key,
                "currency": currency,
                # An id beyond bigint is no selection: left out, it is reported not found.
                "selections": bigint_array(i for i in selection_ids if i <= BIGINT_MAX),
            },
        )
        rows = cursor.fetchall()
    existing, excluded_until, own_limits, wallet, escrow = rows[0][:5]
    if isinstance(own_limits, str):  # Django's connection leaves jsonb as text for JSONField to parse
        own_limits = json.loads(own_limits)
    return _Context(
        existing_slip_id=existing,
        self_excluded_until=excluded_until,
        daily_stake_limits={str(k): int(v) for k, v in (own_limits or {}).items()},
        wallet_id=wallet or wallet_for(user_id=user_id, currency=currency).pk,
        escrow_id=escrow or system_account(kind=Account.Kind.BETS_ESCROW, currency=currency).pk,
        selections={row[5]: selection_from_row(row[5:]) for row in rows if row[5] is not None},
    )


def _stake_to_escrow(slip: BetSlip, *, wallet_id: int, escrow_id: int) -> int:
    """Wallet -> bets_escrow; raises InsufficientFunds (rolling the slip back) when it is short."""
    result = entries_post(
        [
            Entry(
                key=f"bet:place:{slip.pk}",
                kind="bet.place",
                lines=[Line(wallet_id, -slip.stake, slip.currency), Line(escrow_id, slip.stake, slip.currency)],
                reference=f"slip:{slip.pk}",
                metadata={"slip": slip.pk, "user": slip.user_id},
            )
        ]
    )
    return result.id_for(f"bet:place:{slip.pk}")


def _replay(
    *, user_id: int, idempotency_key: str, slip_type: str, stake: int, currency: str, legs: Sequence[LegRequest]
) -> Placement | None:
    slip = BetSlip.objects.filter(user_id=user_id, client_key=idempotency_key).first()
    if slip is None:
        return None
    rows = list(slip.legs.select_related("selection__market__event").order_by("pk"))
    same = (slip.type, slip.stake, slip.currency, sorted(r.selection_id for r in rows)) == (
        slip_type,
        stake,
        currency,
        sorted(leg.selection_id for leg in legs),
    )
    if not same:
        raise Conflict(
            "This idempotency key already placed a different slip.",
            code="idempotency_key_reused",
            details={"slip": slip.pk},
        )
    return Placement(slip=slip, legs=rows, created=False)


def _live_confirm_enqueue(slip_id: int) -> None:
    from betting.tasks import live_bet_confirm

    live_bet_confirm.apply_async(args=(slip_id,), countdown=settings.LIVE_BET_DELAY_S)


def slip_event_data(slip: BetSlip, legs: Sequence[PricedLeg]) -> dict[str, object]:
    return {
        "slip": slip.pk,
        "status": slip.status,
        "type": slip.type,
        "system": slip.system_label,
        "stake": money(slip.stake, slip.currency),
        "potential_payout": money(slip.potential_payout, slip.currency),
        "live": slip.live,
        "legs": [
            {"selection": leg.selection.pk, "event": leg.selection.market.event_id, "odds": leg.odds} for leg in legs
        ],
    }
