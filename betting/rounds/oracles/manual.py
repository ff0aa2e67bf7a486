"""Closes typed in by an operator (admin, or `settle_round --close/--reference`)."""

from __future__ import annotations

from datetime import date

from betting.models import ManualPrice
from betting.rounds.oracles.base import OracleError, Quote


class ManualOracle:
    name = "manual"

    def fetch_close(self, *, asset: str, session_date: date) -> Quote:
        entry = ManualPrice.objects.filter(asset=asset, session_date=session_date).first()
        if entry is None:
            raise OracleError("not_available", f"No operator has entered the close of {asset} on {session_date}.")
        return Quote(
            price=entry.price,
            as_of=entry.created_at,
            detail={"entered_by": entry.entered_by, "note": entry.note, "manual_price": entry.pk},
        )
