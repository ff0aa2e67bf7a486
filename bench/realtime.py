"""Benchmark: a settlement's commit to the last of 1,000 WebSocket clients receiving its bet.settled.

    .venv/bin/python bench/realtime.py [--clients 1000] [--runs 20]

Sets itself up: its own database (tote_bench_realtime, dropped at the end), its own channel-layer
prefix on the configured Redis, a real uvicorn serving config.asgi:application, and a separate
process holding N real WebSocket clients (the `websockets` package), one user each, each
authenticated with a JWT in the `bearer.` subprotocol.

Per run, three measurements on the same server and clients, interleaved so they share the noise:
- settlement: an event with one open slip per user (each placed through `bet_place`, before the
  clock starts); its result is recorded and the settlement engine (`event_settle`) settles all of
  them in one chunk: slips, ledger, and one `bet.settled` per user through the outbox, in one
  transaction. The clock starts when that chunk's COMMIT has returned (the engine's `on_chunk`
  callback) and stops when the last client has its event; the time from the start of the
  `event_settle` call is printed too. The path is the production one: on-commit wake-up, relay
  thread, claim, fan-out per user, mark published, consumer, socket.
- bare group_send: the same 1,000 per-user messages through the channel layer's own API
  (group_send, up to REALTIME_RELAY_CONCURRENCY at a time), no database, from just before the
  first send to the last client receiving.
- bare fan-out: the same messages through realtime.fanout (what the relay uses: pipelined
  PUBLISH on the pub/sub layer), no database: the outbox's own cost is the difference.
Prints p50 and p99 of each over the runs, and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DB = "tote_bench_realtime"
PREFIX = "tote_bench_realtime"
SENDS: dict[str, list[float]] = {}  # how long the sends themselves took, per run


def raise_fd_limit(need: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(need, soft)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft < need:
        raise SystemExit(f"RLIMIT_NOFILE is {soft}; {need} descriptors are needed (raise the hard limit)")
    return soft


def configure_environment(redis_max: int) -> str:
    import environ

    environ.Env.read_env(ROOT / ".env", overwrite=False)
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tote"))
    database_url = urlunparse(base._replace(path=f"/{BENCH_DB}"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "CHANNEL_LAYER_PREFIX": PREFIX,
            "REALTIME_KEY_PREFIX": PREFIX,
            "REDIS_MAX_CONNECTIONS": str(redis_max),
            "FAST_PASSWORD_HASHER": "1",
            "LOG_LEVEL": "WARNING",
            "DEBUG": "false",
            "REALTIME_RELAY_ON_COMMIT": "true",
        }
    )
    return database_url


def recreate_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    admin = urlunparse(urlparse(database_url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))


def drop_database(database_url: str) -> None:
    import psycopg
    from psycopg import sql

    admin = urlunparse(urlparse(database_url)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB)))


# --- the clients' process ---------------------------------------------------------------------


def clients_main(url: str, origin: str, tokens: list[str], pipe: Any) -> None:
    asyncio.run(_clients(url, origin, tokens, pipe))


async def _clients(url: str, origin: str, tokens: list[str], pipe: Any) -> None:
    from websockets.asyncio.client import connect

    n = len(tokens)
    received: dict[Any, list[float]] = {}  # by run tag; "settlement" for the engine's events
    sockets: list[Any] = []

    async def open_one(token: str) -> Any:
        ws = await connect(url, subprotocols=["tote.v1", f"bearer.{token}"], origin=origin, max_queue=64)
        await ws.send('{"type":"ping"}')  # lets live events through at once (no resume to wait for)
        assert json.loads(await ws.recv())["type"] == "pong"
        return ws

    async def listen(ws: Any) -> None:
        async for raw in ws:
            now = time.time()
            frame = json.loads(raw)
            if frame.get("type") != "bet.settled":
                continue  # bet.placed, balance.updated, odds.updated of the slips being set up
            # A settlement's events carry no run tag: one settlement is outstanding at a time.
            run = frame.get("data", {}).get("run", "settlement")
            times = received.setdefault(run, [])
            times.append(now)
            if len(times) == n:
                pipe.send(("done", run, received.pop(run)))

    started = time.monotonic()
    for i in range(0, n, 50):  # in batches: the server's Redis pool and accept queue stay calm
        sockets += await asyncio.gather(*(open_one(t) for t in tokens[i : i + 50]))
    pipe.send(("ready", len(sockets), time.monotonic() - started))
    listeners = [asyncio.ensure_future(listen(ws)) for ws in sockets]
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.recv)  # "stop"
    for listener in listeners:
        listener.cancel()
    for i in range(0, n, 100):
        await asyncio.gather(*(ws.close() for ws in sockets[i : i + 100]), return_exceptions=True)
    pipe.send(("closed",))


# --- the emitting side (this process) -------------------------------------------------------


def fund_players(user_ids: list[int]) -> None:
    from ledger.services import deposit_record

    for uid in user_ids:
        deposit_record(user_id=uid, currency="NGN", amount=100_000_000, provider="bench", reference=f"fund-{uid}")


def open_slips(run: int, user_ids: list[int]) -> int:
    """A fixture with a moneyline market and one single per player on the home side, placed the
    way players place them; returns the event's id once the relay has published every event the
    placements wrote (so the settlement's events queue behind nothing)."""
    from datetime import UTC, datetime, timedelta
    from decimal import Decimal

    from betting.services import EventSpec, LegRequest, MarketSpec, SelectionSpec, bet_place, event_create
    from realtime.models import OutboxEvent

    event = event_create(
        spec=EventSpec(
            sport="SOCCER",
            league="EPL",
            name="",
            home=f"Home {run}",
            away=f"Away {run}",
            scheduled_start=datetime.now(UTC) + timedelta(hours=2),
            markets=[
                MarketSpec(
                    kind="moneyline",
                    selections=[
                        SelectionSpec(outcome="home", odds=Decimal("1.9000")),
                        SelectionSpec(outcome="away", odds=Decimal("2.0500")),
                    ],
                )
            ],
        )
    )
    home = event.markets.get().selections.get(outcome="home")
    for uid in user_ids:
        bet_place(
            user_id=uid,
            slip_type="single",
            stake=1_000,
            currency="NGN",
            legs=[LegRequest(selection_id=home.pk, odds=home.odds)],
            idempotency_key=f"bench-{run}-{uid}",
        )
    deadline = time.monotonic() + 60
    while OutboxEvent.objects.filter(published_at__isnull=True).exists():
        if time.monotonic() > deadline:
            raise SystemExit("the relay did not publish the placements' events within 60 s")
        time.sleep(0.05)
    return int(event.pk)


def emit_settlement(event_id: int, slips: int) -> tuple[float, float]:
    """Record a home win and settle the event with the engine; returns (the instant the call
    started, the instant the chunk's COMMIT had returned)."""
    from betting.services.operators import event_result_record
    from settlement.services.events import event_settle

    event_result_record(event_id=event_id, status="finished", home_score=2, away_score=1)
    committed: list[float] = []
    called = time.time()
    report = event_settle(event_id=event_id, chunk_size=slips, on_chunk=lambda: committed.append(time.time()))
    if report.settled != slips or len(committed) != 1:
        raise SystemExit(f"the engine settled {report.settled} of {slips} slips in {len(committed)} chunks")
    return called, committed[0]


def bare_messages(run: int, user_ids: list[int]) -> list[tuple[int, str, dict[str, Any]]]:
    from realtime.protocol import LAYER_EVENT, user_group

    return [
        (
            uid,
            user_group(uid),
            {
                "type": LAYER_EVENT,
                "event": {
                    "type": "bet.settled",
                    "id": f"evt_{uuid.uuid4().hex}",
                    "seq": 0,
                    "ts": "",
                    "data": {"run": run},
                },
            },
        )
        for uid in user_ids
    ]


async def emit_group_send(layer: Any, run: int, user_ids: list[int], concurrency: int) -> float:
    """The layer's own API: one group_send per user, up to `concurrency` at a time."""
    messages = bare_messages(run, user_ids)
    gate = asyncio.Semaphore(concurrency)
    started = time.time()

    async def one(group: str, message: dict[str, Any]) -> None:
        async with gate:
            await layer.group_send(group, message)

    await asyncio.gather(*(one(group, message) for _, group, message in messages))
    SENDS.setdefault("group_send", []).append(time.time() - started)
    return started


async def emit_fanout(fanout: Any, run: int, user_ids: list[int]) -> float:
    """What the relay does with a batch, without the database: realtime.fanout."""
    messages = bare_messages(run, user_ids)
    started = time.time()
    await fanout.send(messages, timeout_s=30)
    SENDS.setdefault("fanout", []).append(time.time() - started)
    return started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(q / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--port", type=int, default=8690)
    parser.add_argument("--redis-max-connections", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a run may take")
    parser.add_argument("--ws", default="auto", help="uvicorn's WebSocket implementation")
    args = parser.parse_args()

    fds = raise_fd_limit(args.clients * 3 + 512)
    database_url = configure_environment(args.redis_max_connections)
    recreate_database(database_url)

    import django

    django.setup()
    from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
    from django.conf import settings
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    from realtime.fanout import fanout_for
    from realtime.relay import relay_stop
    from users.models import User

    call_command("migrate", verbosity=0)
    User.objects.bulk_create(User(username=f"bench{i}", email=f"bench{i}@example.com") for i in range(args.clients))
    users = list(User.objects.order_by("pk"))
    user_ids = [u.pk for u in users]
    tokens = [str(AccessToken.for_user(u)) for u in users]

    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port", str(args.port)]
        + ["--lifespan", "off", "--no-access-log", "--log-level", "warning", "--backlog", "4096"]
        + ["--timeout-graceful-shutdown", "5", "--ws", args.ws],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    parent, child = mp.get_context("spawn").Pipe()
    clients = mp.get_context("spawn").Process(
        target=clients_main,
        args=(f"ws://127.0.0.1:{args.port}/ws/bets/", f"http://127.0.0.1:{args.port}", tokens, child),
    )
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    fanout = fanout_for(channel_layers.make_backend(DEFAULT_CHANNEL_LAYER), DEFAULT_CHANNEL_LAYER)
    loop = asyncio.new_event_loop()
    kinds = ("settlement", "group_send", "fanout")
    results: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        _wait_for_port(args.port, server)
        clients.start()
        if not parent.poll(120):
            raise SystemExit("clients did not connect within 120 s")
        _, connected, connect_s = parent.recv()
        print(
            f"{connected} clients connected in {connect_s:.1f} s (RLIMIT_NOFILE {fds}, REDIS_MAX_CONNECTIONS "
            f"{settings.REDIS_MAX_CONNECTIONS}, layer {settings.CHANNEL_LAYER_BACKEND}, "
            f"relay fan-out {type(fanout).__name__}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})"
        )
        fund_players(user_ids)
        tag = 10
        called: list[float] = []
        for run in range(-1, args.runs):  # run -1 warms every path up and is not counted
            for kind in kinds:
                tag += 1
                if kind == "settlement":
                    event_id = open_slips(tag, user_ids)
                    call, start = emit_settlement(event_id, len(user_ids))
                elif kind == "group_send":
                    start = loop.run_until_complete(
                        emit_group_send(layer, tag, user_ids, settings.REALTIME_RELAY_CONCURRENCY)
                    )
                else:
                    start = loop.run_until_complete(emit_fanout(fanout, tag, user_ids))
                if not parent.poll(args.timeout):
                    raise SystemExit(f"run {run} ({kind}): not every client got its event in {args.timeout} s")
                _, got_tag, times = parent.recv()
                assert got_tag == ("settlement" if kind == "settlement" else tag), (got_tag, tag)
                if run >= 0:
                    results[kind].append(max(times) - start)
                    if kind == "settlement":
                        called.append(max(times) - call)
        parent.send("stop")
        if parent.poll(60):
            parent.recv()
    finally:
        clients.join(30)
        if clients.is_alive():
            clients.terminate()
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(15)
        relay_stop()
        loop.run_until_complete(fanout.close())
        loop.run_until_complete(layer.flush())
        loop.close()
        from django.db import connection

        connection.close()
        drop_database(database_url)

    print(
        f"\n{args.clients} clients, {args.runs} runs. Each run the settlement engine settles an event with one open\n"
        "slip per client in one chunk; its bet.settled events go out through the outbox.\n"
    )
    rows = [
        ("settlement: COMMIT -> last client", results["settlement"]),
        ("  (from the event_settle call)", called),
        ("bare group_send -> last client", results["group_send"]),
        ("  (the group_sends alone)", SENDS["group_send"][1:]),
        ("bare relay fan-out -> last client", results["fanout"]),
        ("  (the fan-out alone)", SENDS["fanout"][1:]),
    ]
    print(f"{'':36}{'p50':>9}{'p99':>9}{'mean':>9}")
    for label, values in rows:
        print(f"{label:36}{percentile(values, 50):8.3f}s{percentile(values, 99):8.3f}s{statistics.mean(values):8.3f}s")
    for name, key in (("bare group_send", "group_send"), ("the relay's fan-out without the database", "fanout")):
        p50 = percentile(results["settlement"], 50) / percentile(results[key], 50)
        p99 = percentile(results["settlement"], 99) / percentile(results[key], 99)
        print(f"ratio settlement / {name}: p50 {p50:.2f}x, p99 {p99:.2f}x")
    print("(aim: settlement p99 under 1 s and within 2x the bare group_send)")
    return 0


def _wait_for_port(port: int, server: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("uvicorn exited")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit("uvicorn did not start in 30 s")


if __name__ == "__main__":
    sys.exit(main())
