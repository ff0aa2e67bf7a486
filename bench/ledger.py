"""Ledger throughput beside pgbench on the same server, in the same run.

32 concurrent clients transfer money between 10,000 funded wallets; every transfer also pays a
fee to a system account (the `fees` account every transfer touches, which a naive design
would lock). Each transfer is `ledger.services.transaction_post`: one balanced transaction with
its own idempotency key, committed on its own. pgbench's TPC-B (`pgbench -c 32 -j 2 -T 20`) runs
against the same PostgreSQL in the same run, and the ratio of the two is printed.

The machine's speed moves from one minute to the next, so the two take turns: `--rounds` rounds
(3 by default) of one run each, ours first in odd rounds and pgbench first in even ones. The
figures compared are the means over the rounds; each round's ratio is printed too.

    .venv/bin/python bench/ledger.py [--seconds 20] [--rounds 3] [--clients 32] [--wallets 10000] [--scale 32]
                                     [--database tote_bench_ledger] [--pgbench-database tote_bench_ledger_pgbench]

The script uses its own databases (`--database`, `--pgbench-database`), made afresh.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import resource
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "tote_bench_ledger"
PGBENCH_DB = "tote_bench_ledger_pgbench"


def _server_url() -> str:
    import environ

    environ.Env.read_env(ROOT / ".env", overwrite=False)
    return os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tote")


def _recreate(name: str) -> None:
    import psycopg
    from psycopg import sql

    admin = urlparse(_server_url())._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _setup_django(database: str) -> None:
    os.environ["DATABASE_URL"] = urlparse(_server_url())._replace(path=f"/{database}").geturl()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "false"  # production's setting: DEBUG keeps a log of every query
    os.environ.setdefault("FAST_PASSWORD_HASHER", "1")
    import django

    django.setup()


def prepare(wallets: int) -> tuple[list[int], int]:
    """Migrate the bench database and fund `wallets` users with one bulk ledger post."""
    from django.core.management import call_command
    from django.db import transaction

    call_command("migrate", verbosity=0)
    from ledger.models import Account
    from ledger.services import Entry, Line, entries_post, system_account
    from users.models import User

    users = User.objects.bulk_create(
        [User(username=f"bench{i}", email=f"bench{i}@example.com", password="!") for i in range(wallets)],
        batch_size=2000,
    )
    accounts = Account.objects.bulk_create(
        [Account(kind=Account.Kind.WALLET, currency="NGN", user=u) for u in users], batch_size=2000
    )
    bank = system_account(kind=Account.Kind.BANK_CLEARING, currency="NGN").pk
    fees = system_account(kind=Account.Kind.FEES, currency="NGN").pk
    with transaction.atomic():
        entries_post(
            [
                Entry(
                    key=f"deposit:bench:{a.pk}",
                    kind="deposit",
                    lines=[Line(bank, -10_000_000, "NGN"), Line(a.pk, 10_000_000, "NGN")],
                )
                for a in accounts
            ]
        )
    return [a.pk for a in accounts], fees


def _client_process(
    database: str,
    wallet_ids: list[int],
    fees: int,
    threads: int,
    seconds: float,
    ready: Any,
    go: Any,
    start_at: Any,
    out: Any,
) -> None:
    _setup_django(database)
    from django.db import connection

    from core.errors import InsufficientFunds
    from ledger.services import Line, transaction_post

    done = [0] * threads
    refused = [0] * threads
    latencies: list[list[float]] = [[] for _ in range(threads)]

    ready.put(os.getpid())
    go.wait()

    def run(n: int) -> None:
        rng = random.Random(n * 7919 + os.getpid())
        while time.time() < start_at.value:
            time.sleep(0.001)
        stop = start_at.value + seconds
        try:
            while time.time() < stop:
                src, dst = rng.sample(wallet_ids, 2)
                amount = rng.randint(2, 1_000)
                began = time.perf_counter()
                try:
                    transaction_post(
                        key=f"transfer:{uuid.uuid4().hex}",
                        kind="transfer",
                        lines=[Line(src, -amount, "NGN"), Line(dst, amount - 1, "NGN"), Line(fees, 1, "NGN")],
                    )
                    done[n] += 1
                    latencies[n].append(time.perf_counter() - began)
                except InsufficientFunds:
                    refused[n] += 1
        finally:
            connection.close()

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    cpu = time.process_time()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((sum(done), sum(refused), [x for lat in latencies for x in lat], time.process_time() - cpu))


class BackendCpu:
    """CPU time of the PostgreSQL backends serving one database, read from /proc while they run
    (the machine is shared: the figure per transaction moves far less with the load than the
    wall clock does)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        import psycopg

        tick = os.sysconf("SC_CLK_TCK")
        admin = urlparse(_server_url())._replace(path="/postgres").geturl()
        with psycopg.connect(admin, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])
                for (pid,) in rows.fetchall():
                    try:
                        with open(f"/proc/{pid}/stat") as f:
                            fields = f.read().rsplit(")", 1)[1].split()
                    except OSError:  # gone, or not on this machine
                        continue
                    self.seen[pid] = (int(fields[11]) + int(fields[12])) / tick
                self._stop.wait(0.1)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return sum(self.seen.values())


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_ledger(
    database: str, wallet_ids: list[int], fees: int, clients: int, processes: int, seconds: float
) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    start_at = ctx.Value("d", 0.0)
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    procs = [
        ctx.Process(target=_client_process, args=(database, wallet_ids, fees, n, seconds, ready, go, start_at, out))
        for n in per
    ]
    for p in procs:
        p.start()
    for _ in procs:  # every process has imported Django and is waiting
        ready.get()
    backends = BackendCpu(database)
    start_at.value = time.time() + 0.5
    go.set()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    server_cpu = backends.stop()
    done = sum(r[0] for r in results)
    return {
        "tps": done / seconds,
        "transfers": done,
        "refused": sum(r[1] for r in results),
        "latencies": [x for r in results for x in r[2]],
        "client_us": sum(r[3] for r in results) / max(done, 1) * 1e6,
        "server_us": server_cpu / max(done, 1) * 1e6,
    }


def pgbench_init(database: str, scale: int) -> list[str]:
    """Make pgbench's database afresh; returns the connection options for `run_pgbench`."""
    _recreate(database)
    server = urlparse(_server_url())
    base = ["-h", server.hostname or "127.0.0.1", "-p", str(server.port or 5432), "-U", server.username or "postgres"]
    subprocess.run(["pgbench", *base, "-i", "-q", "-s", str(scale), database], check=True, capture_output=True)
    return base


def run_pgbench(database: str, base: list[str], clients: int, seconds: int) -> dict[str, Any]:
    backends, client_cpu = BackendCpu(database), _children_cpu()
    result = subprocess.run(
        ["pgbench", *base, "-c", str(clients), "-j", "2", "-T", str(seconds), database],
        check=True,
        capture_output=True,
        text=True,
    )
    client_cpu, server_cpu = _children_cpu() - client_cpu, backends.stop()
    match = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", result.stdout)
    processed = re.search(r"actually processed: (\d+)", result.stdout)
    if not match or not processed:
        raise RuntimeError(f"could not read pgbench's figure:\n{result.stdout}\n{result.stderr}")
    done = max(int(processed.group(1)), 1)
    return {
        "tps": float(match.group(1)),
        "transactions": done,
        "client_us": client_cpu / done * 1e6,
        "server_us": server_cpu / done * 1e6,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=20, help="length of each measured run")
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        choices=range(1, 11),
        metavar="1..10",
        help="turns of ours and pgbench's, in alternating order",
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--processes",
        type=int,
        default=4,
        help="client processes the clients are spread over (threads in each share a GIL; on 2 cores 2-4 did best, 32 worst)",
    )
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--scale", type=int, default=32, help="pgbench scale factor (pgbench: at least --clients)")
    parser.add_argument("--database", default=BENCH_DB, help="the ledger's database, made afresh")
    parser.add_argument("--pgbench-database", default=PGBENCH_DB, help="pgbench's database, made afresh")
    args = parser.parse_args()

    _recreate(args.database)
    _setup_django(args.database)
    print(f"preparing {args.wallets} funded wallets and pgbench at scale {args.scale} ...", flush=True)
    wallet_ids, fees = prepare(args.wallets)
    from django.db import connection

    connection.close()
    pgbench_options = pgbench_init(args.pgbench_database, args.scale)

    # The machine's speed moves from minute to minute: the two are measured in turns, in
    # alternating order (ours first in odd rounds, pgbench first in even ones), and compared on
    # their means.
    ours: list[dict[str, Any]] = []
    baseline: list[dict[str, Any]] = []
    for n in range(1, args.rounds + 1):
        for which in ("ledger", "pgbench") if n % 2 else ("pgbench", "ledger"):
            if which == "ledger":
                print(f"round {n}: ledger, {args.clients} clients for {args.seconds} s ...", flush=True)
                ours.append(run_ledger(args.database, wallet_ids, fees, args.clients, args.processes, args.seconds))
            else:
                print(f"round {n}: pgbench TPC-B -c {args.clients} -j 2 -T {args.seconds} ...", flush=True)
                baseline.append(run_pgbench(args.pgbench_database, pgbench_options, args.clients, args.seconds))

    from ledger.reconcile import reconcile

    report = reconcile()
    ours_tps = sum(r["tps"] for r in ours) / len(ours)
    base_tps = sum(r["tps"] for r in baseline) / len(baseline)
    transfers = sum(r["transfers"] for r in ours)
    transactions = sum(r["transactions"] for r in baseline)

    def cpu(results: list[dict[str, Any]], count: str, key: str) -> float:
        return sum(r[key] * r[count] for r in results) / max(sum(r[count] for r in results), 1)

    lat = sorted(x for r in ours for x in r["latencies"])
    print()
    for n, (o, b) in enumerate(zip(ours, baseline, strict=True), start=1):
        print(f"round {n}: ledger {o['tps']:8.1f}/s  pgbench {b['tps']:8.1f} tps  ratio {o['tps'] / b['tps']:.2f}")
    print(
        f"ledger transfers/s      {ours_tps:10.1f}   ({transfers} transfers in {args.rounds} rounds, "
        f"p50 {lat[len(lat) // 2] * 1000:.1f} ms, p99 {lat[int(len(lat) * 0.99)] * 1000:.1f} ms)"
    )
    print(f"pgbench TPC-B tps       {base_tps:10.1f}   (mean of {args.rounds} runs)")
    print(f"ratio ledger / pgbench  {ours_tps / base_tps:10.2f}")
    print(
        "CPU per transaction (us; the load stretches these much less than the wall clock): "
        f"ledger {cpu(ours, 'transfers', 'client_us'):.0f} client + {cpu(ours, 'transfers', 'server_us'):.0f} PostgreSQL, "
        f"pgbench {cpu(baseline, 'transactions', 'client_us'):.0f} client + "
        f"{cpu(baseline, 'transactions', 'server_us'):.0f} PostgreSQL"
    )
    print(f"load average            {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print(f"reconcile_ledger        {'clean' if report.clean else 'BREAKS: ' + ', '.join(report.breaks)}")
    return 0 if report.clean and transactions else 1


if __name__ == "__main__":
    sys.exit(main())
