"""Payout batch throughput: a run at the configured concurrency beside the same run at concurrency 1.

10,000 queued payouts (each held in the ledger, each to its own connected account) are paid by
one batch run through the real Stripe adapter (`stripe.StripeClient`) against the local fake
Stripe answering every request after 50 ms, in a separate process. Then 10,000 more are paid by
the same run with one call in flight at a time. The ratio of the two durations is the figure;
the aim is the concurrency's factor less 20%.

    .venv/bin/python bench/payouts.py [--payouts 10000] [--concurrency N] [--latency-ms 50] [--batch-size N]

The script uses its own database (`tote_bench_payouts`), made afresh, and checks the books after.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "tote_bench_payouts"


def _env() -> None:
    import environ

    environ.Env.read_env(ROOT / ".env", overwrite=False)


def _server_url() -> str:
    return os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tote")


def _recreate(name: str) -> None:
    import psycopg
    from psycopg import sql

    admin = urlparse(_server_url())._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_fake(latency_ms: int) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    process = subprocess.Popen(  # noqa: S603 - our own fake, fixed arguments
        [sys.executable, "-m", "tests.fakes.stripe", "--port", str(port), "--latency-ms", str(latency_ms)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/_fake/state", timeout=1).read()  # noqa: S310 - local fake
            return process, url
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the fake Stripe did not start")


def _setup_django(stripe_base: str, batch_size: int | None) -> None:
    os.environ["DATABASE_URL"] = urlparse(_server_url())._replace(path=f"/{BENCH_DB}").geturl()
    # Keep the breaker's state away from a running demo.
    os.environ["REDIS_URL"] = os.environ.get("TEST_REDIS_URL", os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/15"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["STRIPE_API_BASE"] = stripe_base
    os.environ["STRIPE_SECRET_KEY"] = "sk_test_bench"
    os.environ["PAYOUT_RUN_TIME_LIMIT_S"] = "7200"
    if batch_size:
        os.environ["PAYOUT_BATCH_SIZE"] = str(batch_size)
    import django

    django.setup()
    import logging

    logging.getLogger().setLevel(logging.WARNING)
    for noisy in ("stripe", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _queue_payouts(count: int, tag: str) -> list[int]:
    """`count` users, each with a payee and one queued payout held in the ledger (set-based posts)."""
    from django.db import transaction
    from django.utils import timezone

    from ledger.models import Account
    from ledger.services import Entry, Line, entries_post, system_account
    from payments.models import Payee, Payout
    from users.models import User

    now = timezone.now()
    users = User.objects.bulk_create(
        [User(username=f"{tag}{i}", email=f"{tag}{i}@example.com", password="!") for i in range(count)],
        batch_size=2000,
    )
    wallets = Account.objects.bulk_create(
        [Account(kind=Account.Kind.WALLET, currency="USD", user=u) for u in users], batch_size=2000
    )
    Account.objects.bulk_create(
        [Account(kind=Account.Kind.RECEIVABLE, currency="USD", user=u) for u in users], batch_size=2000
    )
    payees = Payee.objects.bulk_create(
        [Payee(user=u, stripe_account_id=f"acct_1{tag}{i:07d}") for i, u in enumerate(users)], batch_size=2000
    )
    bank = system_account(kind=Account.Kind.BANK_CLEARING, currency="USD").pk
    clearing = system_account(kind=Account.Kind.PAYOUT_CLEARING, currency="USD").pk
    amount = 5_000
    with transaction.atomic():
        entries_post(
            [
                Entry(
                    key=f"deposit:bench:{tag}{i}",
                    kind="deposit",
                    lines=[Line(w.pk, 10_000, "USD"), Line(bank, -10_000, "USD")],
                )
                for i, w in enumerate(wallets)
            ]
        )
        payouts = Payout.objects.bulk_create(
            [
                Payout(user=u, payee=p, amount=amount, currency="USD", queued_at=now, next_attempt_at=now)
                for u, p in zip(users, payees, strict=True)
            ],
            batch_size=2000,
        )
        entries_post(
            [
                Entry(
                    key=f"payout:{po.pk}:hold",
                    kind="payout_hold",
                    lines=[Line(w.pk, -amount, "USD"), Line(clearing, amount, "USD")],
                    reference=f"payout:{po.pk}",
                )
                for po, w in zip(payouts, wallets, strict=True)
            ]
        )
    return [p.pk for p in payouts]


def _run(concurrency: int) -> tuple[float, object]:
    from payments.payouts.runs import RunOptions, payout_run_execute

    started = time.perf_counter()
    report = payout_run_execute(RunOptions(trigger="command", concurrency=concurrency))
    return time.perf_counter() - started, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payouts", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=None, help="default: PAYOUT_MAX_CONCURRENCY")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=None, help="default: PAYOUT_BATCH_SIZE")
    args = parser.parse_args()

    _env()
    _recreate(BENCH_DB)
    fake, url = _start_fake(args.latency_ms)
    try:
        _setup_django(url, args.batch_size)
        from django.conf import settings
        from django.core.management import call_command

        from ledger.reconcile import reconcile
        from payments.models import Payout
        from payments.payouts.breaker import breaker

        call_command("migrate", verbosity=0)
        breaker.reset()
        concurrency = args.concurrency or settings.PAYOUT_MAX_CONCURRENCY
        print(
            f"{args.payouts} payouts per run, fake Stripe latency {args.latency_ms} ms, "
            f"batch size {settings.PAYOUT_BATCH_SIZE}, machine cores {os.cpu_count()}",
            flush=True,
        )

        results = {}
        for label, level in (("configured", concurrency), ("baseline", 1)):
            t0 = time.perf_counter()
            ids = _queue_payouts(args.payouts, f"b{level}x")
            print(
                f"  queued {len(ids)} payouts for concurrency {level} in {time.perf_counter() - t0:.1f} s", flush=True
            )
            seconds, report = _run(level)
            paid = Payout.objects.filter(pk__in=ids, status=Payout.Status.PAID).count()
            results[label] = (level, seconds, paid)
            print(
                f"  concurrency {level:>3}: {seconds:8.1f} s  {args.payouts / seconds:7.1f} payouts/s  "
                f"paid {paid}/{len(ids)}  ({getattr(report, 'status', '?')})",
                flush=True,
            )
        state = urllib.request.urlopen(f"{url}/_fake/state", timeout=5).read().decode()  # noqa: S310
        books = reconcile()
        level, fast, _ = results["configured"]
        _, slow, _ = results["baseline"]
        ratio = slow / fast
        target = level * 0.8
        print(f"fake Stripe: {state}")
        print(f"books clean: {books.clean}")
        print(
            f"RESULT: concurrency {level}: {fast:.1f} s; concurrency 1 (baseline, same run): {slow:.1f} s; "
            f"speed-up {ratio:.2f}x (aim: {target:.1f}x = {level} less 20%)"
        )
        all_paid = all(paid == args.payouts for _, _, paid in results.values())
        return 0 if books.clean and all_paid else 1
    finally:
        fake.terminate()
        fake.wait(10)


if __name__ == "__main__":
    sys.exit(main())
