"""Prometheus metrics, declared once. `/metrics` serves them (multi-process aware)."""

from __future__ import annotations

import os

from django.http import HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

OUTBOUND_CALLS = Counter("tote_outbound_calls_total", "Outbound provider calls", ["service", "outcome"])
LEDGER_POST_SECONDS = Histogram(
    "tote_ledger_post_seconds",
    "Time to post ledger transactions",
    ["mode"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
LEDGER_TRANSACTIONS = Counter("tote_ledger_transactions_total", "Ledger transactions posted", ["kind"])
BETS_PLACED = Counter("tote_bets_placed_total", "Bet slips placed", ["type", "currency"])
BETS_SETTLED = Counter("tote_bets_settled_total", "Bet slips settled", ["status"])
SETTLEMENT_LATENCY = Histogram(
    "tote_settlement_latency_seconds",
    "From result received to slip settled",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
QUEUE_DEPTH = Gauge("tote_queue_depth", "Messages waiting per Celery queue", ["queue"], multiprocess_mode="max")
PAYOUT_OUTCOMES = Counter("tote_payout_outcomes_total", "Payout attempts by outcome", ["outcome"])
WEBSOCKET_CONNECTIONS = Gauge("tote_websocket_connections", "Open WebSocket connections", multiprocess_mode="livesum")
TVL = Gauge("tote_tvl_minor_units", "Value locked per currency (minor units)", ["currency"], multiprocess_mode="max")


# Realtime: the outbox relay.
OUTBOX_PUBLISHED = Counter("tote_outbox_published_total", "Outbox events marked published", ["path"])
OUTBOX_PUBLISH_DELAY = Histogram(
    "tote_outbox_publish_delay_seconds",
    "From an outbox event's creation to its publication on the channel layer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
OUTBOX_SEND_FAILURES = Counter("tote_outbox_send_failures_total", "Channel-layer sends of outbox events that failed")
OUTBOX_BACKLOG = Gauge("tote_outbox_backlog", "Unpublished outbox events after the last sweep", multiprocess_mode="max")


def metrics_view(request: HttpRequest) -> HttpResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


CHAIN_TRANSACTIONS = Counter(
    "tote_chain_transactions_total",
    "On-chain audit records by outcome (sent, replaced, confirmed, reverted, dropped, retry, failed)",
    ["outcome"],
)

# --- Payments in: top-up and treasury ---
TOPUP_OUTCOMES = Counter("tote_topup_outcomes_total", "Top-ups finished, by outcome", ["outcome"])
TOPUP_PROVIDER_ANSWERS = Counter(
    "tote_topup_provider_answers_total", "What the airtime provider answered, by call and outcome", ["call", "outcome"]
)
TOPUP_FLAGGED = Counter("tote_topup_flagged_total", "Top-ups flagged for an operator", ["reason"])
DEPOSITS_RECEIVED = Counter(
    "tote_bank_deposits_total", "Bank deposit notifications, by provider and result", ["provider", "result"]
)
WEBHOOKS_REFUSED = Counter("tote_payment_webhooks_refused_total", "Provider webhooks refused", ["webhook", "reason"])

# --- Sportsbook ---
FEED_EVENTS = Counter("tote_feed_events_total", "Feed events synced, by outcome", ["outcome"])
BETS_REFUSED = Counter("tote_bets_refused_total", "Bet placements refused, by error code", ["code"])
LIVE_BETS = Counter("tote_live_bets_total", "Live bets after their delay", ["outcome"])

# --- Payouts ---
PAYOUT_RUNS = Counter("tote_payout_runs_total", "Payout batch runs by final status", ["status"])
PAYOUT_RUN_SECONDS = Histogram(
    "tote_payout_run_seconds",
    "Duration of payout batch runs",
    buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800),
)
PAYOUT_STRIPE_SECONDS = Histogram(
    "tote_payout_stripe_seconds",
    "Duration of one Stripe transfer attempt",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# --- Up/Down rounds ---
ROUND_BETS_PLACED = Counter("tote_round_bets_placed_total", "Up/Down bets placed", ["currency", "side"])
ROUND_BETS_SETTLED = Counter("tote_round_bets_settled_total", "Up/Down bets settled", ["status"])
ROUND_SETTLE_SECONDS = Histogram(
    "tote_round_settle_seconds",
    "Time to pay out one Up/Down round",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
ROUND_ORACLE_FETCHES = Counter("tote_round_oracle_fetches_total", "Closing-price fetches", ["oracle", "outcome"])

# --- Cashout ---
CASHOUT_OFFERS = Counter("tote_cashout_offers_total", "Cashout offers made, by source (player, auto)", ["source"])
CASHOUTS = Counter("tote_cashouts_total", "Cashouts paid, by kind (full, partial) and source", ["kind", "source"])
CASHOUT_REFUSALS = Counter("tote_cashout_refusals_total", "Cashout requests and accepts refused, by reason", ["reason"])
