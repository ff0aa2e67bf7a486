"""Cashout: the house buys back a pending slip at a price it sets (RULES.md "Cashout").

- `models`: offers (30 s, one open per slip) and auto-cashout targets.
- `pricing`: a slip's legs as the pure pricing (`settlement.cashout_pricing`) sees them.
- `services`: create an offer, accept one (re-priced; a settlement racing it wins or loses
  whole), expire; `payment`: what an accepted offer does (the slip's compare-and-set, one
  ledger transaction `cashout:<offer>`, events); `data`: client input and event data.
- `auto`: auto-cashout targets, evaluated when odds move and swept by beat.
- `api` (REST) and `ws` (the /ws/bets/ client messages) call the services.
"""
