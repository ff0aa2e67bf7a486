"""Placing a bet slip: every rule of RULES.md, then the slip, its legs, the stake moved from the
wallet to `bets_escrow` (ledger key `bet:place:<slip id>`), the liability and daily-stake
counters and the `bet.placed` event, all in one database transaction.

The transaction is four statements: what placement needs to know (the context), the slip with
its legs and the day's stake, the ledger's post, and the liability with the events (and, for an
HTTP request, its stored answer: `core.idempotency.Recording`).

The catalogue is read without locks: a bet is priced at the odds it read, which the odds policy
accepted. A live bet (any leg in play) is held as AWAITING with its stake in escrow, and
re-validated once its delay has passed (`betting.services.live`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import structlog
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone

from betting.models import BetLeg, BetSlip, Selection
from betting.pricing import MAX_LEGS, slip_potential_payout, system_line_count
from betting.selectors import SELECTION_COLUMNS, selection_from_row
from betting.services.catalogue import constraint_name
from betting.services.limits import (
    LIABILITY_RESERVE,
    daily_stake_refusal,
    liability_checked,
    liability_refusal,
    stake_day,
)
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
from core.authentication import account_column
from core.errors import ApplicationError, Conflict, NotFound, ValidationFailed
from core.idempotency import (
    LOCK_WAIT_S,
    READ_COLUMN,
    STORE_COLUMNS,
    Recording,
    Replay,
    in_progress,
    read_answer,
    store_answer,
)
from core.metrics import BETS_PLACED, BETS_REFUSED
from core.sql import BIGINT_MAX, bigint_array
from ledger.currencies import get_currency, money, validate_amount
from ledger.models import Account
from ledger.services import Entry, Line, entries_post, system_account, wallet_for
from realtime.outbox import EVENTS_INSERT, events_encode, events_written

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
    # The (status, data) `answer` gave, stored with the request's Recording.
    answer: tuple[int, Any] | None = None


# What an HTTP request answers for a placement: its status and body.
Answer = Callable[[Placement], tuple[int, Any]]


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
    recording: Recording | None = None,
    answer: Answer | None = None,
) -> Placement:
    """Place a slip, or return the one this idempotency key already placed.

    With `recording` (an HTTP request's Idempotency-Key; `answer` renders the response), the
    request is made idempotent inside the transaction: an answer already stored for the key is
    raised as `Replay`, and this placement's answer is stored before the commit."""
    now = now or timezone.now()
    system_k = _request_check(
        slip_type=slip_type, stake=stake, currency=currency, legs=legs, accept_odds=accept_odds, system=system
    )
    if not idempotency_key or len(idempotency_key) > 255:
        raise ValidationFailed(
            "A slip needs an idempotency key of 1 to 255 characters.", code="idempotency_key_invalid"
        )
    if recording is not None and recording.key != idempotency_key:
        raise ValueError("a request's Recording names the slip's own idempotency key")

    def replayed() -> Placement | None:
        return _replay(
            user_id=user_id,
            idempotency_key=idempotency_key,
            slip_type=slip_type,
            stake=stake,
            currency=currency,
            legs=legs,
        )

    try:
        with transaction.atomic(durable=True):
            context = _placement_context(
                user_id=user_id,
                idempotency_key=idempotency_key,
                currency=currency,
                selection_ids=[leg.selection_id for leg in legs],
                recording=recording,
            )
            if context.existing_slip_id is not None and (replay := replayed()) is not None:
                return _answered(replay, recording, answer)

            self_exclusion_check(context.self_excluded_until, now=now)
            priced = _legs_priced(legs, context.selections, accept_odds=accept_odds, now=now)
            odds = [leg.odds for leg in priced]
            potential = slip_potential_payout(kind=slip_type, stake=stake, odds=odds, system_k=system_k)
            stake_limits_check(stake=stake, currency=currency, potential_payout=potential)
            live = any(leg.live for leg in priced)

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
            placement = Placement(slip=slip, legs=leg_rows, created=True)
            if answer is not None:
                placement = Placement(slip=slip, legs=leg_rows, created=True, answer=answer(placement))
            _placed_write(
                placement,
                priced=priced,
                exposure=potential - stake,
                events=[
                    ("bet.placed", slip_event_data(slip, priced), user_id, ""),
                    (
                        "balance.updated",
                        {"currency": currency, "reason": "bet.placed", "transaction": tx_id, "amount": -stake},
                        user_id,
                        "",
                    ),
                ],
                recording=recording,
                now=now,
            )
            if live:
                transaction.on_commit(lambda: _live_confirm_enqueue(slip.pk), robust=True)
    except IntegrityError as exc:
        if constraint_name(exc) not in (CLIENT_KEY_CONSTRAINT, RECORD_KEY_CONSTRAINT):
            raise
        # The same key raced us and won: answer as it did.
        if recording is not None and (stored := read_answer(recording)) is not None:
            raise Replay(stored) from None
        if (replay := replayed()) is None:
            raise
        return _answered(replay, recording, answer)

    BETS_PLACED.labels(slip_type, currency).inc()
    log.info("bet.placed", slip=slip.pk, type=slip_type, stake=stake, currency=currency, live=live)
    return placement


RECORD_KEY_CONSTRAINT = "idempotency_scope_key_unique"


def _answered(replay: Placement, recording: Recording | None, answer: Answer | None) -> Placement:
    """A slip the key already placed, answered and its answer stored (in the placement's
    transaction, or on its own after a race on the key was lost)."""
    if recording is None or answer is None:
        return replay
    replay = Placement(slip=replay.slip, legs=replay.legs, created=False, answer=answer(replay))
    if replay.answer is not None:
        store_answer(recording, *replay.answer)
    return replay


# After the ledger's post: the slip's exposure added to each selection's liability (a selection
# that would pass the cap gives no row back), the events, and the request's stored answer, in one
# statement. See `betting.services.limits.liability_reserve` for the liability's upsert.
_PLACED_WRITE = f"""
WITH liability AS ({LIABILITY_RESERVE}),
events AS ({EVENTS_INSERT} RETURNING 1),
answer AS (
    INSERT INTO core_idempotencyrecord ({STORE_COLUMNS})
    SELECT %(scope)s::text, %(key)s::text, %(method)s::text, %(path)s::text, %(hash)s::text,
           %(status)s::smallint, %(body)s::text, %(stored_at)s::timestamptz
    WHERE %(scope)s::text IS NOT NULL
    RETURNING 1
)
SELECT selection_id FROM liability
"""  # noqa: S608 - constant statements; every value is a parameter


def _placed_write(
    placement: Placement,
    *,
    priced: list[PricedLeg],
    exposure: int,
    events: list[tuple[str, dict[str, Any], int | None, str]],
    recording: Recording | None,
    now: datetime,
) -> None:
    """The liability, the events and the stored answer; raises the liability's refusal (rolling
    the slip back)."""
    slip = placement.slip
    cap = liability_cap(slip.currency)
    ids = liability_checked(selection_ids=[leg.selection.pk for leg in priced], exposure=exposure, cap=cap)
    stored = (
        recording.row(*placement.answer)
        if recording is not None and placement.answer is not None
        else [None] * 8  # no Recording: nothing stored
    )
    scope, key, method, path, request_hash, status, body, stored_at = stored
    with connection.cursor() as cursor:
        cursor.execute(
            _PLACED_WRITE,
            {
                "currency": slip.currency,
                "exposure": exposure,
                "selections": bigint_array(ids),
                "cap": cap if cap is not None else 2**62,
                "events": events_encode(events),
                "now": now,
                "scope": scope,
                "key": key,
                "method": method,
                "path": path,
                "hash": request_hash,
                "status": status,
                "body": body,
                "stored_at": stored_at,
            },
        )
        accepted = {row[0] for row in cursor.fetchall()}
    events_written()
    refused = [i for i in ids if i not in accepted]
    if refused:
        raise liability_refusal(refused)


# The day's stake counted against the limit (or not: no row back), the slip and its legs, in one
# statement. The daily counter is the one conditional upsert of `betting.services.limits`; with
# no limit there is nothing to count. Every value is a parameter.
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
       (SELECT json_object_agg(selection_id, id) FROM legs)::text
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
        slip_id, counted, leg_ids = cursor.fetchone()
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


# The choices, once: an enum's `.values` builds its list afresh on every call.
_SLIP_TYPES = frozenset(BetSlip.Type.values)
_ODDS_POLICIES = frozenset(BetSlip.AcceptOdds.values)


def _request_check(
    *, slip_type: str, stake: int, currency: str, legs: Sequence[LegRequest], accept_odds: str, system: str | None
) -> int | None:
    """Validate the shape of the request (400); returns k of a system k/n."""
    if slip_type not in _SLIP_TYPES:
        raise ValidationFailed(f"Unknown slip type {slip_type!r}.", code="invalid_slip_type")
    if accept_odds not in _ODDS_POLICIES:
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


# What placement needs to know before it writes, in one round trip, the first statement of its
# transaction: a slip this key already placed, the player's own limits, the two ledger accounts
# the stake moves between, and the selections with their markets and events (one row each; a
# single row of nulls when none exists). For an HTTP request (`lock` not null) it also takes the
# key's idempotency lock until the commit and reads the answer stored for the key, and reads what
# authentication left to read of the user (core.authentication.DeferredUser).
#
# It also sets `plan_cache_mode` for the rest of this transaction only (set_config(..., true)):
# the statements that follow (the slip, the ledger's post, the liability and events) are the same
# small writes on every bet, and PostgreSQL, which otherwise plans each of them afresh on every
# execution (a custom plan for the arrays they take), spent more CPU planning the ledger's post
# than running it. Their generic plans are made once per connection.
#
# The lock and set_config are volatile: in a materialized CTE they run once, whatever the plan.
_CONTEXT = f"""
WITH first AS MATERIALIZED (
    SELECT CASE WHEN %(lock)s::bigint IS NULL THEN true ELSE pg_try_advisory_xact_lock(%(lock)s::bigint) END,
           {READ_COLUMN},
           set_config('plan_cache_mode', 'force_generic_plan', true),
           {account_column()}
)
SELECT ctx.*, {SELECTION_COLUMNS}
FROM (
    SELECT
        (SELECT id FROM betting_betslip WHERE user_id = %(user)s AND client_key = %(key)s),
        limits.self_excluded_until,
        limits.daily_stake_limits,
        (SELECT id FROM ledger_account
          WHERE user_id = %(user)s AND kind = 'wallet' AND currency = %(currency)s),
        (SELECT id FROM ledger_account
          WHERE user_id IS NULL AND kind = 'bets_escrow' AND currency = %(currency)s),
        first.*
    FROM first
    LEFT JOIN betting_playerlimits AS limits ON limits.user_id = %(user)s
) AS ctx
LEFT JOIN (
    betting_selection s
    JOIN betting_market m ON m.id = s.market_id
    JOIN betting_event e ON e.id = m.event_id
) ON s.id = ANY(%(selections)s::bigint[])
"""  # noqa: S608 - constant column lists; every value is a parameter
_CONTEXT_WIDTH = 9


def _placement_context(
    *, user_id: int, idempotency_key: str, currency: str, selection_ids: list[int], recording: Recording | None
) -> _Context:
    """The context (see _CONTEXT), inside the transaction. With `recording`, waits for the key's
    lock (409 `idempotency_in_progress` after LOCK_WAIT_S) and raises `Replay` with the answer
    stored for the key."""
    params: dict[str, int | str | None] = {
        "user": user_id,
        "key": idempotency_key,
        "currency": currency,
        # An id beyond bigint is no selection: left out, it is reported not found.
        "selections": bigint_array(i for i in selection_ids if i <= BIGINT_MAX),
        "lock": None if recording is None else recording.lock,
        "scope": None if recording is None else recording.scope,
    }
    deadline = time.monotonic() + LOCK_WAIT_S
    delay = 0.005
    with connection.cursor() as cursor:
        while True:
            cursor.execute(_CONTEXT, params)
            rows = cursor.fetchall()
            existing, excluded_until, own_limits, wallet, escrow, locked, stored, _, account = rows[0][:_CONTEXT_WIDTH]
            if recording is not None and recording.deferred_user is not None:
                recording.deferred_user.verify(account)  # 401 before anything else, as authentication would
            if locked:
                break
            if time.monotonic() > deadline:
                raise in_progress()
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
    if recording is not None:
        recording.checked = True
        if stored is not None:
            raise Replay(stored)
    if isinstance(own_limits, str):  # Django's connection leaves jsonb as text for JSONField to parse
        own_limits = json.loads(own_limits)
    selections = {
        row[_CONTEXT_WIDTH]: selection_from_row(row[_CONTEXT_WIDTH:]) for row in rows if row[_CONTEXT_WIDTH] is not None
    }
    return _Context(
        existing_slip_id=existing,
        self_excluded_until=excluded_until,
        daily_stake_limits={str(k): int(v) for k, v in (own_limits or {}).items()},
        wallet_id=wallet or wallet_for(user_id=user_id, currency=currency).pk,
        escrow_id=escrow or system_account(kind=Account.Kind.BETS_ESCROW, currency=currency).pk,
        selections=selections,
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
