"""The currency registry: every amount is an integer in its currency's minor unit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.errors import ValidationFailed

# No single movement may exceed this many minor units: far above any real bet or deposit, far
# below BIGINT, so that sums of many postings cannot overflow.
MAX_AMOUNT = 10**15


@dataclass(frozen=True)
class Currency:
    code: str
    exponent: int
    name: str

    @property
    def unit(self) -> int:
        """Minor units in one major unit."""
        return 10**self.exponent


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("USD", 2, "US dollar"),
        Currency("NGN", 2, "Nigerian naira"),
        Currency("TZS", 2, "Tanzanian shilling"),
        Currency("USDC", 6, "USD Coin (micro-USDC)"),
    )
}
CURRENCY_CHOICES = [(c.code, c.code) for c in CURRENCIES.values()]


def get_currency(code: str) -> Currency:
    try:
        return CURRENCIES[code]
    except (KeyError, TypeError):
        raise ValidationFailed(
            f"Unknown currency {code!r}.",
            code="unknown_currency",
            details={"currency": code, "supported": sorted(CURRENCIES)},
        ) from None


def validate_amount(amount: object, *, field: str = "amount", allow_zero: bool = False) -> int:
    """An amount a caller sent: a whole number of minor units, positive, and not absurd."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValidationFailed(
            f"{field} must be a whole number of minor units.", code="invalid_amount", details={"field": field}
        )
    if amount < 0 or (amount == 0 and not allow_zero):
        raise ValidationFailed(f"{field} must be positive.", code="invalid_amount", details={"field": field})
    if amount > MAX_AMOUNT:
        raise ValidationFailed(
            f"{field} is larger than any allowed movement ({MAX_AMOUNT}).",
            code="invalid_amount",
            details={"field": field, "max": MAX_AMOUNT},
        )
    return amount


def format_amount(amount: int, code: str) -> str:
    """`NGN 1,234.56`: a display string; never parse it back."""
    currency = get_currency(code)
    major = Decimal(amount).scaleb(-currency.exponent)
    return f"{code} {major:,.{currency.exponent}f}"


def money(amount: int, code: str) -> dict[str, object]:
    """How an amount travels in JSON: minor units, currency and a display string."""
    return {"amount": amount, "currency": code, "display": format_amount(amount, code)}
