"""What travels: the client's cashout input (checked here, never trusted for an amount) and the
data of the cashout events (`cashout.offered`, `cashout.success`, `cashout.error`, `bet.updated`)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from betting.models import BetSlip
from core.errors import ValidationFailed
from ledger.currencies import money
from realtime.cashout.models import CashoutOffer
from realtime.cashout.pricing import WHOLE

# A client names an offer, never a sum: a message carrying one of these is refused whole.
CLIENT_AMOUNT_FIELDS = ("amount", "value", "payout")


def amount_fields_refuse(data: Mapping[str, Any]) -> None:
    sent = [name for name in CLIENT_AMOUNT_FIELDS if name in data]
    if sent:
        raise ValidationFailed(
            "The server sets cashout amounts: ask for an offer, then accept it by its id.",
            code="amount_not_accepted",
            details={"fields": sent},
        )


def fraction_parse(value: object) -> Decimal:
    """The part of the slip to cash out: absent or 1 is all of it; else 0 < q < 1, 4 places."""
    if value is None:
        return WHOLE
    problem = ValidationFailed(
        "fraction is a number above 0 and at most 1, with up to 4 decimal places.",
        code="invalid_fraction",
        details={"fraction": str(value)[:32]},
    )
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise problem
    try:
        fraction = Decimal(str(value))
    except InvalidOperation:
        raise problem from None
    if not fraction.is_finite() or not 0 < fraction <= 1 or fraction != fraction.quantize(Decimal("0.0001")):
        raise problem
    return WHOLE if fraction == WHOLE else fraction.quantize(Decimal("0.0001"))


# --- event data -------------------------------------------------------------------------------


def offer_data(offer: CashoutOffer) -> dict[str, Any]:
    return {
        "offer": offer.pk,
        "slip": offer.slip_id,
        "amount": money(offer.amount, offer.currency),
        "whole_offer": money(offer.value, offer.currency),
        "fraction": fraction_text(offer.fraction),
        "stake_cashed": money(offer.stake_cashed, offer.currency),
        "expires_at": offer.expires_at,
        "origin": offer.source,
    }


def slip_data(slip: BetSlip, *, reason: str) -> dict[str, Any]:
    return {
        "slip": slip.pk,
        "status": slip.status,
        "stake": money(slip.stake, slip.currency),
        "potential_payout": money(slip.potential_payout, slip.currency),
        "payout": money(slip.payout, slip.currency) if slip.payout is not None else None,
        "reason": reason,
    }


def fraction_text(fraction: Decimal) -> str:
    return format(Decimal(fraction).normalize(), "f")
