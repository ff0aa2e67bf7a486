"""The one interface every closing-price oracle speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True)
class Quote:
    """An official close: the price, when the source says it was set, and what it answered."""

    price: Decimal
    as_of: datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class OracleError(Exception):
    """The oracle gave no usable price; `outcome` is one of `PriceFetch.Outcome`."""

    def __init__(self, outcome: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.detail = detail or {}


class PriceOracle(Protocol):
    name: str

    def fetch_close(self, *, asset: str, session_date: date) -> Quote:
        """The official close of `asset` on the trading day `session_date`, or OracleError."""
        ...


def positive_price(value: object) -> Decimal | None:
    """A finite price above zero, from JSON (parsed with Decimal floats) or an integer."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    price = Decimal(value)
    if not price.is_finite() or price <= 0:
        return None
    return price
