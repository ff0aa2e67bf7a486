"""The placement rules of RULES.md, as checks that raise the error a front end can act on.

Used when a slip is placed and again when a live bet is re-validated after its delay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings

from betting.models import BetSlip, Event, Market, Selection
from core.errors import ApplicationError, Conflict
from ledger.currencies import money


class RuleRefused(ApplicationError):
    """A business rule refused the bet (422)."""

    status_code = 422


class SelfExcluded(ApplicationError):
    status_code = 403
    code = "self_excluded"


@dataclass(frozen=True)
class PricedLeg:
    selection: Selection
    requested: Decimal | None
    odds: Decimal  # what the leg is placed at
    live: bool


def leg_check(selection: Selection, *, now: datetime) -> bool:
    """Whether a selection takes a bet now; returns True when the bet is live (in play)."""
    market, event = selection.market, selection.market.event
    details = {"selection": selection.pk, "market": market.pk, "event": event.pk}
    if market.status in (Market.Status.CLOSED, Market.Status.SETTLED, Market.Status.VOID):
        raise RuleRefused("The market is closed.", code="market_closed", details=details)
    if market.status == Market.Status.SUSPENDED or selection.status != Selection.Status.OPEN:
        raise RuleRefused("The market is suspended for now.", code="market_suspended", details=details)
    if event.status == Event.Status.LIVE:
        if not market.in_play:
            raise RuleRefused(
                "The event has started: this market was pre-match only.", code="event_started", details=details
            )
        return True
    if event.status != Event.Status.SCHEDULED:
        raise RuleRefused(f"The event is {event.status}.", code="event_closed", details=details)
    start = min(event.scheduled_start, event.actual_start or event.scheduled_start)
    if now >= start:
        # Past its start but not yet known to be live: neither pre-match nor in play.
        raise RuleRefused("The event has started.", code="event_started", details=details)
    return False


def events_distinct_check(selections: Sequence[Selection]) -> None:
    seen: dict[int, int] = {}
    for selection in selections:
        event_id = selection.market.event_id
        if event_id in seen:
            raise RuleRefused(
                "Two legs of one slip cannot be on the same event.",
                code="same_event_legs",
                details={"event": event_id, "selections": [seen[event_id], selection.pk]},
            )
        seen[event_id] = selection.pk


def odds_accepted(policy: str, requested: Decimal | None, current: Decimal) -> bool:
    if policy == BetSlip.AcceptOdds.ANY or requested is None:
        return policy == BetSlip.AcceptOdds.ANY
    if policy == BetSlip.AcceptOdds.EXACT:
        return current == requested
    return current >= requested


def odds_check(policy: str, legs: Sequence[tuple[Selection, Decimal | None]]) -> None:
    """409 with the current odds of every leg when the policy refuses any of them."""
    if all(odds_accepted(policy, requested, selection.odds) for selection, requested in legs):
        return
    raise Conflict(
        "The odds have changed.",
        code="odds_changed",
        details={
            "accept_odds": policy,
            "legs": [
                {
                    "selection": selection.pk,
                    "requested": str(requested) if requested is not None else None,
                    "current": str(selection.odds),
                    "accepted": odds_accepted(policy, requested, selection.odds),
                }
                for selection, requested in legs
            ],
        },
    )


def stake_limits_check(*, stake: int, currency: str, potential_payout: int) -> None:
    minimum = settings.BET_STAKE_MIN.get(currency, 1)
    maximum = settings.BET_STAKE_MAX.get(currency)
    max_payout = settings.BET_MAX_PAYOUT.get(currency)
    if stake < minimum:
        raise RuleRefused(
            "The stake is below the minimum.", code="stake_too_low", details={"min_stake": money(minimum, currency)}
        )
    if maximum is not None and stake > maximum:
        raise RuleRefused(
            "The stake is above the maximum.", code="stake_too_high", details={"max_stake": money(maximum, currency)}
        )
    if max_payout is not None and potential_payout > max_payout:
        # The largest stake that fits, scaled down from this one (payout is proportional).
        fitting = stake * max_payout // potential_payout
        raise RuleRefused(
            "The slip could pay more than the maximum payout.",
            code="max_payout_exceeded",
            details={
                "max_payout": money(max_payout, currency),
                "potential_payout": money(potential_payout, currency),
                "max_stake": money(fitting, currency),
            },
        )


def liability_cap(currency: str) -> int | None:
    cap = settings.BET_LIABILITY_CAP.get(currency)
    return int(cap) if cap is not None else None


def daily_stake_limit(currency: str, own_limits: dict[str, int] | None) -> int | None:
    """The tighter of the house's daily stake limit and the player's own."""
    limits = [settings.BET_DAILY_STAKE_LIMIT.get(currency), (own_limits or {}).get(currency)]
    values = [int(v) for v in limits if v is not None]
    return min(values) if values else None


def self_exclusion_check(until: datetime | None, *, now: datetime) -> None:
    if until is not None and until > now:
        raise SelfExcluded(
            "You have excluded yourself from betting.", details={"until": until.isoformat().replace("+00:00", "Z")}
        )
