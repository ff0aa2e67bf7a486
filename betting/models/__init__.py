"""Betting models: the sportsbook catalogue and slips, and the Up/Down rounds."""

from betting.models.rounds import ManualPrice, PriceFetch, Round, RoundBet, Side  # noqa: F401
