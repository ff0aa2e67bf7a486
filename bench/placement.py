"""Bet placement over HTTP beside pgbench TPC-B on the same PostgreSQL, in one run.

    .venv/bin/python bench/placement.py [--clients 32] [--seconds 20] [--no-pool]
        [--port 8190] [--database tote_bench_placement] [--pgbench-database tote_bench_pgbench]

What it does:
1. Creates its own database (`--database`, default `tote_bench_placement`; dropped and made again), migrates it, and
   makes one player per client with money, and events with open markets.
2. Starts the web server exactly as the Procfile's `web:` line does (uvicorn, WEB_CONCURRENCY
   workers, WEB_THREADS threads each) against that database, with DEBUG off and Django's psycopg
   pool (DATABASE_POOL, make run's default). `--no-pool` runs it with one connection per thread
   instead, which can run PostgreSQL out of connections at 32 clients.
3. Runs pgbench TPC-B (`pgbench -c <clients> -j 2 -T <seconds>`) on `--pgbench-database`
   (default `tote_bench_pgbench`, dropped and made again).
4. Runs <clients> concurrent HTTP clients, each with its own keep-alive connection and JWT,
   placing singles (`POST /api/bets` with a fresh Idempotency-Key) on random selections for
   <seconds>; prints placements/s, p50/p99 latency, and the ratio to pgbench's TPS.
5. Proves the books afterwards: one slip per 201, the ledger reconciles.

Beside the rate it prints the CPU each placement cost the web server's processes, the database's
backends and the load generator (from /proc, during the measured run): a figure other work on a
shared machine disturbs much less than the rate.

Figures are noisy on a shared machine; the baseline is measured in the same run for that reason.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCH_DB = "tote_bench_placement"
PGBENCH_DB = "tote_bench_pgbench"
STAKE = 1_000  # NGN 10.00


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each measured run")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--events", type=int, default=20, help="events; each offers two selections")
    parser.add_argument("--port", type=int, default=8190)
    parser.add_argument("--pgbench-scale", type=int, default=32)
    parser.add_argument("--database", default=BENCH_DB, help="the placement database (dropped and made again)")
    parser.add_argument("--pgbench-database", default=PGBENCH_DB, help="pgbench's database (dropped and made again)")
    parser.add_argument(
        "--no-pool", dest="pool", action="store_false", help="the server without DATABASE_POOL (make run's default)"
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "placement.json")
    return parser.parse_args()


# --- environment and data ---------------------------------------------------------------------


def configure_environment(args: argparse.Namespace) -> dict[str, str]:
    import environ

    environ.Env.read_env(ROOT / ".env", overwrite=False)
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tote"))
    os.environ["DATABASE_URL"] = urlunparse(base._replace(path=f"/{args.database}"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "FAST_PASSWORD_HASHER": "1",
            "JWT_ACCESS_MINUTES": "120",
            # As in production: no per-query debug bookkeeping, no browsable API.
            "DEBUG": "false",
            "LOG_FORMAT": os.environ.get("LOG_FORMAT", "console"),
            "WEB_HOST": "127.0.0.1",
            "WEB_PORT": str(args.port),
        }
    )
    if args.pool:
        os.environ["DATABASE_POOL"] = "true"
    return {"host": base.hostname or "127.0.0.1", "port": str(base.port or 5432), "user": base.username or "postgres"}


def recreate_database(pg: dict[str, str], name: str) -> None:
    import psycopg

    with psycopg.connect(host=pg["host"], port=pg["port"], user=pg["user"], dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def prepare_data(args: argparse.Namespace) -> tuple[list[str], list[tuple[int, str]]]:
    """Players with money and JWTs, and open selections with their odds."""
    import django

    django.setup()
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import RefreshToken

    from betting.services import EventSpec, MarketSpec, SelectionSpec, event_create
    from ledger.services import deposit_record
    from users.services import user_create

    call_command("migrate", verbosity=0)
    tokens = []
    for n in range(args.clients):
        user = user_create(username=f"bench{n}", password="bench-password-123", email=f"bench{n}@example.com")
        deposit_record(user_id=user.pk, currency="NGN", amount=10**12, provider="bench", reference=f"bench{n}")
        tokens.append(str(RefreshToken.for_user(user).access_token))
    selections: list[tuple[int, str]] = []
    start = datetime.now(UTC) + timedelta(days=1)
    for n in range(args.events):
        event = event_create(
            spec=EventSpec(
                sport="SOCCER",
                league="EPL",
                name="",
                home=f"Bench Home {n}",
                away=f"Bench Away {n}",
                scheduled_start=start + timedelta(minutes=n),
                markets=[
                    MarketSpec(
                        kind="moneyline",
                        selections=[
                            SelectionSpec("home", odds=_odds("1.90")),
                            SelectionSpec("away", odds=_odds("2.05")),
                        ],
                    )
                ],
            )
        )
        for selection in event.markets.get().selections.order_by("pk"):
            selections.append((selection.pk, str(selection.odds)))
    return tokens, selections


def _odds(text: str) -> Any:
    from decimal import Decimal

    return Decimal(text)


# --- the server -----------------------------------------------------------------------------


def web_command() -> str:
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit("no web: line in the Procfile")


def start_server(args: argparse.Namespace, log_path: Path) -> subprocess.Popen[bytes]:
    metrics_dir = tempfile.mkdtemp(prefix="tote-bench-metrics-")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir}
    log = log_path.open("wb")
    server = subprocess.Popen(  # noqa: S602 - the Procfile's own command line, run as make run runs it
        web_command(), shell=True, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server stopped; see {log_path}")
        try:
            asyncio.run(_request_once(args.port, "GET", "/api/health", {}, b""))
            return server
        except OSError:
            time.sleep(0.3)
    stop_server(server)
    raise SystemExit("the server did not come up within 60 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(server.pid, signal.SIGKILL)


# --- a lean HTTP/1.1 client (the load generator shares the machine: keep it cheap) ----------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    body = await reader.readexactly(int(match.group(1))) if match else b""
    return status, body


def _request_bytes(port: int, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _request_once(port: int, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_request_bytes(port, method, path, headers, body))
        return await _read_response(reader)
    finally:
        writer.close()


async def client_loop(
    port: int, token: str, selections: list[tuple[int, str]], until: float, record: bool, out: dict[str, Any]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    rng = random.Random()  # noqa: S311 - picking selections, not secrets
    base_headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    try:
        while time.perf_counter() < until:
            selection, odds = rng.choice(selections)
            body = json.dumps(
                {"type": "single", "stake": STAKE, "currency": "NGN", "legs": [{"selection": selection, "odds": odds}]}
            ).encode()
            headers = {**base_headers, "Idempotency-Key": uuid.uuid4().hex}
            started = time.perf_counter()
            writer.write(_request_bytes(port, "POST", "/api/bets", headers, body))
            status, payload = await _read_response(reader)
            elapsed = time.perf_counter() - started
            out["statuses"][status] += 1
            if not record:
                continue
            out["latencies"].append(elapsed)
            if status != 201:
                try:
                    out["errors"][json.loads(payload)["error"]["code"]] += 1
                except (ValueError, KeyError, TypeError):
                    out["errors"][f"http {status}"] += 1
    finally:
        writer.close()


async def load(
    args: argparse.Namespace, tokens: list[str], selections: list[tuple[int, str]], server: subprocess.Popen[bytes]
) -> dict[str, Any]:
    warm: dict[str, Any] = {"latencies": [], "statuses": Counter(), "errors": Counter()}
    until = time.perf_counter() + args.warmup
    await asyncio.gather(*(client_loop(args.port, t, selections, until, False, warm) for t in tokens))
    out: dict[str, Any] = {"latencies": [], "statuses": Counter(), "errors": Counter()}
    web_before, db_before = cpu_seconds(group_pids(server.pid)), cpu_seconds(backend_pids(args.database))
    load_before = time.process_time()
    started = time.perf_counter()
    until = started + args.seconds
    await asyncio.gather(*(client_loop(args.port, t, selections, until, True, out) for t in tokens))
    out["elapsed"] = time.perf_counter() - started
    out["cpu_s"] = {
        "web": _spent(web_before, cpu_seconds(group_pids(server.pid))),
        "postgres": _spent(db_before, cpu_seconds(backend_pids(args.database))),
        "load": time.process_time() - load_before,
    }
    out["warmup_placed"] = warm["statuses"][201]
    return out


# --- CPU spent, from /proc: what a placement costs, whatever else runs on the machine ------------


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process still alive."""
    ticks = os.sysconf("SC_CLK_TCK")
    spent = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        spent[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return spent


def _spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def group_pids(pgid: int) -> list[int]:
    """The processes of the server's process group (it runs in a session of its own)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def backend_pids(database: str) -> list[int]:
    """PostgreSQL's backends connected to the benchmark's database (same machine)."""
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
        ).fetchall()
    return [row[0] for row in rows]


# --- pgbench --------------------------------------------------------------------------------


def pgbench(args: argparse.Namespace, pg: dict[str, str]) -> float:
    conn = ["-h", pg["host"], "-p", pg["port"], "-U", pg["user"]]
    run = ["-n", "-c", str(args.clients), "-j", "2", "-T", str(int(args.seconds))]
    recreate_database(pg, args.pgbench_database)
    subprocess.run(
        ["pgbench", "-i", "-q", "-s", str(args.pgbench_scale), *conn, args.pgbench_database],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        ["pgbench", *run, *conn, args.pgbench_database],
        check=True,
        capture_output=True,
        text=True,
    )
    match = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
    if not match:
        raise SystemExit(f"could not read pgbench's TPS:\n{result.stdout}\n{result.stderr}")
    return float(match.group(1))


# --- main -----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def main() -> int:
    args = parse_args()
    pg = configure_environment(args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    print(f"preparing {args.database}: {args.clients} players, {args.events * 2} selections ...", flush=True)
    recreate_database(pg, args.database)
    tokens, selections = prepare_data(args)

    from django.db import connections

    connections.close_all()
    server = start_server(args, args.json.with_suffix(".server.log"))
    try:
        print(f"server up: {web_command()}  (DATABASE_POOL={'true' if args.pool else 'false'})", flush=True)
        print(
            f"pgbench TPC-B: {args.clients} clients, {int(args.seconds)} s, scale {args.pgbench_scale} ...", flush=True
        )
        tps = pgbench(args, pg)
        print(
            f"placements: {args.clients} clients, {args.seconds:.0f} s after {args.warmup:.0f} s warm-up ...",
            flush=True,
        )
        result = asyncio.run(load(args, tokens, selections, server))
    finally:
        stop_server(server)

    from betting.models import BetSlip
    from ledger.reconcile import reconcile

    placed = result["statuses"][201]
    rate = placed / result["elapsed"]
    latencies_ms = [x * 1000 for x in result["latencies"]]
    report = reconcile()
    slips = BetSlip.objects.count()
    summary = {
        "placements_per_s": round(rate, 1),
        "p50_ms": round(percentile(latencies_ms, 0.50), 1),
        "p99_ms": round(percentile(latencies_ms, 0.99), 1),
        "mean_ms": round(statistics.fmean(latencies_ms), 1) if latencies_ms else None,
        "requests": len(latencies_ms),
        "placed": placed,
        "errors": dict(result["errors"]),
        "pgbench_tps": round(tps, 1),
        "ratio": round(rate / tps, 3) if tps else None,
        "cpu_ms_per_placement": {k: round(v * 1000 / max(placed, 1), 2) for k, v in result["cpu_s"].items()},
        "clients": args.clients,
        "seconds": args.seconds,
        "database_pool": args.pool,
        "web": web_command(),
        "ledger_clean": report.clean,
        "slips_in_db": slips,
        "created_answers": placed + result["warmup_placed"],
        "at": datetime.now(UTC).isoformat(),
    }
    args.json.write_text(json.dumps(summary, indent=2))
    print()
    print(f"  placements/s       {summary['placements_per_s']:>10}   ({placed} placed in {result['elapsed']:.1f} s)")
    print(f"  latency p50 / p99  {summary['p50_ms']:>7} ms / {summary['p99_ms']} ms")
    print(f"  pgbench TPC-B tps  {summary['pgbench_tps']:>10}")
    print(f"  ratio              {summary['ratio']:>10}   (aim: 0.25 or more)")
    cpu = summary["cpu_ms_per_placement"]
    print(f"  CPU per placement  web {cpu['web']} ms, PostgreSQL backends {cpu['postgres']} ms, load {cpu['load']} ms")
    if summary["errors"]:
        print(f"  errors             {summary['errors']}")
    expected = placed + result["warmup_placed"]
    print(f"  ledger reconciles  {report.clean}; slips in the database {slips}, 201s answered {expected}")
    print(f"  written to {args.json}  (server log beside it)")
    print("  command: " + " ".join(shlex.quote(a) for a in sys.argv))
    return 0 if report.clean and slips == expected else 1


if __name__ == "__main__":
    sys.exit(main())
