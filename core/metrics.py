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


def metrics_view(request: HttpRequest) -> HttpResponse:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = DEFAULT_REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


# --- Up/Down rounds ---
ROUND_BETS_PLACED = Counter("tote_round_bets_placed_total", "Up/Down bets placed", ["currency", "side"])
ROUND_BETS_SETTLED = Counter("tote_round_bets_settled_total", "Up/Down bets settled", ["status"])
ROUND_SETTLE_SECONDS = Histogram(
    "tote_round_settle_seconds",
    "Time to pay out one Up/Down round",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
ROUND_ORACLE_FETCHES = Counter("tote_round_oracle_fetches_total", "Closing-price fetches", ["oracle", "outcome"])
