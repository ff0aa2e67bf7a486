"""Payout knobs from settings, with amounts turned from major units into minor units."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from django.conf import settings

from ledger.currencies import CURRENCIES, get_currency


def major_to_minor(value: Decimal | str | int, currency: str) -> int:
    """A threshold or limit in major units as whole minor units (rounded up: never below it)."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    unit = get_currency(currency).unit
    return int((amount * unit).to_integral_value(rounding=ROUND_CEILING))


def thresholds_minor(major: Decimal | str) -> dict[str, int]:
    """The minimum payout in every currency, minor units."""
    return {code: major_to_minor(major, code) for code in CURRENCIES}


@dataclass(frozen=True)
class Limits:
    minimum: int
    per_payout: int
    per_day: int
    per_month: int
    approval_above: int


def limits_for(currency: str) -> Limits:
    return Limits(
        minimum=major_to_minor(settings.PAYOUT_MIN_THRESHOLD, currency),
        per_payout=major_to_minor(settings.PAYOUT_LIMIT_PER_PAYOUT, currency),
        per_day=major_to_minor(settings.PAYOUT_LIMIT_PER_DAY, currency),
        per_month=major_to_minor(settings.PAYOUT_LIMIT_PER_MONTH, currency),
        approval_above=major_to_minor(settings.PAYOUT_APPROVAL_THRESHOLD, currency),
    )


MAX_RETRY_DELAY_S = 6 * 3600


def retry_delay_s(attempts: int) -> int:
    """Backoff after the n-th failed attempt: PAYOUT_RETRY_DELAY_S, doubling (at most 6 hours)."""
    return min(int(settings.PAYOUT_RETRY_DELAY_S) * 2 ** min(max(attempts - 1, 0), 20), MAX_RETRY_DELAY_S)
