"""Closing-price oracles behind one interface; `ROUNDS_ORACLE` chooses one (http, chainlink, manual)."""

from __future__ import annotations

from django.conf import settings

from betting.rounds.oracles.base import OracleError, PriceOracle, Quote

__all__ = ["OracleError", "PriceOracle", "Quote", "oracle_from_settings"]


def oracle_from_settings() -> PriceOracle:
    choice = settings.ROUNDS_ORACLE
    if choice == "http":
        from betting.rounds.oracles.http import OpenCloseOracle

        return OpenCloseOracle(
            base_url=settings.ROUNDS_PRICES_BASE_URL,
            api_key=settings.ROUNDS_PRICES_API_KEY,
            timeout_s=settings.ROUNDS_PRICES_TIMEOUT_S,
            retries=settings.ROUNDS_PRICES_RETRIES,
        )
    if choice == "chainlink":
        from betting.rounds.oracles.chainlink import ChainlinkOracle

        return ChainlinkOracle.from_settings(settings)
    if choice == "manual":
        from betting.rounds.oracles.manual import ManualOracle

        return ManualOracle()
    raise ValueError(f"ROUNDS_ORACLE must be http, chainlink or manual, not {choice!r}")
