"""Betting models: the sportsbook catalogue and slips, and the Up/Down rounds."""

from betting.models.catalogue import MANUAL_PROVIDER, Competitor, Event, League, Market, Selection, Sport
from betting.models.rounds import ManualPrice, PriceFetch, Round, RoundBet, Side
from betting.models.slips import BetLeg, BetSlip, DailyStake, PlayerLimits, SelectionLiability

__all__ = [
    "MANUAL_PROVIDER",
    "BetLeg",
    "BetSlip",
    "Competitor",
    "DailyStake",
    "Event",
    "League",
    "ManualPrice",
    "Market",
    "PlayerLimits",
    "PriceFetch",
    "Round",
    "RoundBet",
    "Selection",
    "SelectionLiability",
    "Side",
    "Sport",
]
