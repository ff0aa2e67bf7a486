"""Betting models: the sportsbook catalogue and slips, and the Up/Down rounds."""
