"""The sportsbook's HTTP API: public catalogue and bets (`public`), staff endpoints (`operators`)."""
