"""Benchmark: crediting bank deposits and holding top-ups, each beside the bare ledger posting.

Standalone: creates its own database (tote_bench_payments_in), migrates it, and measures
1. a Wema deposit notification end to end through the webhook endpoint (HMAC-SHA512 check,
   JSON parse, bank transaction row, ledger credit, outbox event), against the baseline of the
   same credit posted straight to the ledger (`deposit_record`);
2. a top-up hold (validation, per-user lock, daily-limit sum, top-up row, ledger hold, event),
   against the baseline of the same two-line ledger transaction (`transaction_post`).
Prints each figure, its baseline measured in the same run, and the ratio.

    .venv/bin/python bench/payments_in.py [--n 300]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "tote_bench_payments_in"


def setup_database() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:8.0f}/s ({seconds * 1000 / n:.2f} ms each)"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    n = parser.parse_args().n

    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ["FAST_PASSWORD_HASHER"] = "1"
    setup_database()

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)

    from django.conf import settings

    from ledger.models import Account
    from ledger.reconcile import reconcile
    from ledger.services import Line, deposit_record, system_account, transaction_post, wallet_for
    from payments.models import VirtualAccount
    from payments.topup.services import topup_create
    from payments.treasury.nuban import nuban_make
    from tests.fakes.wema import deposit_body, sign
    from users.services import user_create

    settings.TOPUP_DAILY_LIMIT = 10**15
    users = [
        user_create(username=f"bench{i}", password="bench-password-1", email=f"bench{i}@example.com") for i in range(20)
    ]
    for i, user in enumerate(users):
        VirtualAccount.objects.create(
            user=user,
            provider="wema",
            provider_reference=f"tote-user-{user.pk}",
            account_number=nuban_make(bank_code="035", serial=100_000 + i),
            account_name=f"TOTE/BENCH {i}",
            bank_name="Wema Bank",
            bank_code="035",
            first_name="Bench",
            last_name=str(i),
            phone="+2348012345678",
            email=f"bench{i}@example.com",
            bvn_encrypted="-",
            bvn_last4="0000",
        )
    accounts = list(VirtualAccount.objects.order_by("pk"))
    bodies = []
    for i in range(n):
        raw = deposit_body(account_number=accounts[i % len(accounts)].account_number, amount=1000, reference=f"B{i}")
        bodies.append((raw, sign(raw, settings.WEMA_WEBHOOK_SECRET)))

    # Warm up both paths (connections, caches) before timing.
    client = Client()
    for raw, signature in bodies[:20]:
        client.post("/api/treasury/webhook", raw, content_type="application/json", HTTP_X_WEMA_SIGNATURE=signature)
    for i in range(20):
        deposit_record(user_id=users[i % 20].pk, currency="NGN", amount=100_000, provider="warm", reference=f"W{i}")

    started = time.perf_counter()
    for i in range(n):
        deposit_record(user_id=users[i % 20].pk, currency="NGN", amount=100_000, provider="base", reference=f"D{i}")
    base_deposit = time.perf_counter() - started

    started = time.perf_counter()
    for raw, signature in bodies[20:]:
        response = client.post(
            "/api/treasury/webhook", raw, content_type="application/json", HTTP_X_WEMA_SIGNATURE=signature
        )
        assert response.status_code == 200, response.content
    webhook = time.perf_counter() - started
    webhook_n = n - 20

    clearing = system_account(kind=Account.Kind.TOPUP_CLEARING, currency="NGN")
    wallets = [wallet_for(user_id=u.pk, currency="NGN") for u in users]
    started = time.perf_counter()
    for i in range(n):
        transaction_post(
            key=f"base:hold:{i}",
            kind="topup_hold",
            lines=[Line(wallets[i % 20].pk, -10_000, "NGN"), Line(clearing.pk, 10_000, "NGN")],
        )
    base_hold = time.perf_counter() - started

    started = time.perf_counter()
    for i in range(n):
        topup_create(
            user_id=users[i % 20].pk,
            phone="+2348031230000",
            carrier="mtn",
            kind="airtime",
            amount=10_000,
            client_key=f"bench-{i}",
        )
    hold = time.perf_counter() - started

    assert reconcile().clean
    print(f"deposits via POST /api/treasury/webhook : {rate(webhook_n, webhook)}")
    print(f"  baseline deposit_record (ledger only) : {rate(n, base_deposit)}")
    print(f"  ratio webhook / baseline throughput   : {(webhook_n / webhook) / (n / base_deposit):.2f}")
    print(f"top-up holds via topup_create           : {rate(n, hold)}")
    print(f"  baseline transaction_post (same lines): {rate(n, base_hold)}")
    print(f"  ratio hold / baseline throughput      : {(n / hold) / (n / base_hold):.2f}")


if __name__ == "__main__":
    main()
