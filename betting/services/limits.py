"""Counters that placement checks limits against, each moved by one conditional statement so that
concurrent bets cannot pass a limit between a read and a write (no read-modify-write).

- Liability per selection and currency: rows locked in selection-id order (the INSERT lists
  them sorted), so two slips sharing selections cannot deadlock; only bets on the same
  selection wait for each other.
- Daily stake per user, currency and day: one row per user, so only a user's own bets wait.
  Placement moves it in the statement that writes the slip; `daily_stake_refusal` says why not.

Every helper runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime

from django.db import connection
from django.db.models import F
from django.utils import timezone

from betting.models import DailyStake, SelectionLiability
from betting.services.rules import RuleRefused
from core.sql import bigint_array
from ledger.currencies import money


def stake_day(moment: datetime) -> date:
    return timezone.localdate(moment)


def daily_stake_refusal(*, user_id: int, currency: str, day: date, limit: int) -> RuleRefused:
    """The refusal (422 `daily_stake_limit`) of a stake the day's counter did not take.

    Placement counts a stake in the statement that writes its slip (`betting.services.placement`):
    one conditional upsert that adds the stake unless the day's total would pass the limit."""
    staked = DailyStake.objects.filter(user_id=user_id, currency=currency, day=day).values_list("amount", flat=True)
    already = int(staked.first() or 0)
    return RuleRefused(
        "This stake would pass your daily stake limit.",
        code="daily_stake_limit",
        details={
            "limit": money(limit, currency),
            "staked_today": money(already, currency),
            "remaining": money(max(limit - already, 0), currency),
        },
    )


def daily_stake_release(*, user_id: int, currency: str, day: date, stake: int) -> None:
    """Give back a stake that was refused after it was counted (a rejected live bet)."""
    DailyStake.objects.filter(user_id=user_id, currency=currency, day=day, amount__gte=stake).update(
        amount=F("amount") - stake
    )


# The liability upsert: adds `exposure` to each selection of `selections` (an array literal) in
# `currency`, locking the rows in selection order; a selection that would pass `cap` is left as it
# was and gives no row back. Placement runs it inside a statement of its own.
LIABILITY_RESERVE = """
INSERT INTO betting_selectionliability AS l (selection_id, currency, amount)
SELECT s, %(currency)s, %(exposure)s::bigint FROM unnest(%(selections)s::bigint[]) AS s ORDER BY s
ON CONFLICT (selection_id, currency)
DO UPDATE SET amount = l.amount + EXCLUDED.amount WHERE l.amount + EXCLUDED.amount <= %(cap)s::bigint
RETURNING selection_id
"""


def liability_checked(*, selection_ids: Iterable[int], exposure: int, cap: int | None) -> list[int]:
    """The selections whose liability `exposure` moves, sorted (none when it is not positive);
    refuses at once an exposure that alone passes the cap."""
    ids = sorted(set(selection_ids))
    if exposure <= 0 or not ids:
        return []
    if cap is not None and exposure > cap:
        raise RuleRefused(
            "The house cannot take more on this selection.",
            code="liability_exceeded",
            details={"selection": ids[0]},
        )
    return ids


def liability_refusal(refused: list[int]) -> RuleRefused:
    """The refusal (422 `liability_exceeded`) of the selections LIABILITY_RESERVE did not move."""
    return RuleRefused(
        "The house cannot take more on this selection.",
        code="liability_exceeded",
        details={"selection": refused[0], "selections": refused},
    )


def liability_reserve(*, selection_ids: Iterable[int], currency: str, exposure: int, cap: int | None) -> None:
    """Add `exposure` (potential payout minus stake) to each selection's liability, or refuse the
    bet (422 `liability_exceeded`) when any would pass the cap."""
    ids = liability_checked(selection_ids=selection_ids, exposure=exposure, cap=cap)
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            LIABILITY_RESERVE,
            {
                "currency": currency,
                "exposure": exposure,
                "selections": bigint_array(ids),
                "cap": cap if cap is not None else 2**62,
            },
        )
        accepted = {row[0] for row in cursor.fetchall()}
    refused = [i for i in ids if i not in accepted]
    if refused:
        raise liability_refusal(refused)


def liability_release(*, selection_ids: Iterable[int], currency: str, exposure: int) -> None:
    """Take a slip's exposure off its selections (rejected, settled or cashed out)."""
    ids = sorted(set(selection_ids))
    if exposure <= 0 or not ids:
        return
    with connection.cursor() as cursor:
        # Lock in selection order first, as reserving does, so the two cannot deadlock.
        cursor.execute(
            """
            SELECT 1 FROM betting_selectionliability WHERE selection_id = ANY(%s) AND currency = %s
            ORDER BY selection_id FOR UPDATE
            """,
            [ids, currency],
        )
        cursor.execute(
            """
            UPDATE betting_selectionliability SET amount = GREATEST(amount - %s, 0)
            WHERE selection_id = ANY(%s) AND currency = %s
            """,
            [exposure, ids, currency],
        )


def liabilities_release(*, exposures: Mapping[tuple[int, str], int]) -> None:
    """`liability_release` for many slips at once (bulk settlement): `exposures` maps (selection id,
    currency) to the total to take off. Rows are locked in selection order, as everywhere else."""
    items = sorted((key, amount) for key, amount in exposures.items() if amount > 0)
    if not items:
        return
    with connection.cursor() as cursor:
        # Never prepared (psycopg's own cursor, `prepare=False`): a prepared statement is planned
        # for lists of ten, and that plan loops over the whole list for every row of a chunk's
        # hundreds of selections.
        cursor.cursor.execute(
            """
            WITH v(selection_id, currency, amount) AS (SELECT * FROM unnest(%s::bigint[], %s::text[], %s::bigint[])),
            locked AS (
                SELECT l.id FROM betting_selectionliability l
                JOIN v ON v.selection_id = l.selection_id AND v.currency = l.currency
                ORDER BY l.selection_id, l.currency FOR UPDATE OF l
            )
            UPDATE betting_selectionliability l SET amount = GREATEST(l.amount - v.amount, 0)
            FROM v, locked
            WHERE locked.id = l.id AND v.selection_id = l.selection_id AND v.currency = l.currency
            """,
            [[k[0] for k, _ in items], [k[1] for k, _ in items], [a for _, a in items]],
            prepare=False,
        )


def liability_of(selection_id: int, currency: str) -> int:
    row = SelectionLiability.objects.filter(selection_id=selection_id, currency=currency).values_list(
        "amount", flat=True
    )
    return int(row.first() or 0)
