"""Bulk settlement end to end (grading, slips, ledger, outbox) beside a naive baseline, in one run.

    .venv/bin/python bench/settlement.py [--singles 100000] [--combos 20000] [--events 50]
                                         [--baseline 5000] [--webhook-slips 10000] [--threads N]
                                         [--database tote_bench_settlement] [--skip-baseline]

What it does:
1. Creates its own database (`--database`, or $BENCH_SETTLEMENT_DB, default `tote_bench_settlement`;
   dropped and made again) and migrates it.
2. Writes the data with COPY, not through the API: players with wallets funded by deposits,
   `--events` events (moneyline, 1X2, a quarter-line spread, a total), `--singles` singles and
   `--combos` parlays and system bets (2/3, 3/4) over them, each slip's stake moved to escrow by
   its own `bet:place:<slip>` ledger transaction, and the selections' liability.
3. Records a final result on every event (the operator's service), then times ONE settlement run
   over every event due (`settle_bets`' code path): grading, the slips in chunks, one ledger
   transaction per slip (`bet:settle:<slip>:v1`), liability, `bet.settled` outbox events.
   The run settles SETTLEMENT_THREADS events at once (`--threads N` sets it). Beside the wall
   clock it prints the CPU time per slip of the settling Python and of the PostgreSQL backends,
   which other work on a shared machine stretches much less.
4. Baseline, same run: `--baseline` singles on events of their own, settled the way the original
   system did, one slip at a time, each in its own ORM transaction (lock the slip, load its legs,
   grade, price, update, post its ledger transaction, release its liability, write its event).
   A sample: the per-slip figure does not depend on how many there are. `--skip-baseline` leaves
   it out (quick iterations; a figure to quote comes with its baseline).
5. Proves the books: `reconcile()` clean, every slip settled exactly once (one settlement
   transaction each), escrow back to zero.
6. Webhook latency: an event with `--webhook-slips` slips; the web server (uvicorn, as the
   Procfile runs it) and a Celery worker on the settlement queue are started on the bench
   database; a signed result is POSTed to /api/settlement/webhook and the time to the last slip
   settled is measured (the worker settles the event from the queued run).

The machine is shared: the load average before and after is printed beside the figures.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "tote_bench_settlement"
FUNDS = 10**12
STAKES = (1_000, 2_000, 5_000, 10_000, 25_000)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--singles", type=int, default=100_000)
    parser.add_argument("--combos", type=int, default=20_000, help="parlays and system bets")
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--players", type=int, default=20_000)
    parser.add_argument("--baseline", type=int, default=5_000, help="slips the naive baseline settles")
    parser.add_argument("--skip-baseline", action="store_true", help="no naive baseline (quick iterations)")
    parser.add_argument("--webhook-slips", type=int, default=10_000, help="0 skips the webhook measurement")
    parser.add_argument("--threads", type=int, default=None, help="SETTLEMENT_THREADS (default: the setting's)")
    parser.add_argument("--chunk", type=int, default=None, help="SETTLEMENT_CHUNK_SIZE")
    parser.add_argument("--port", type=int, default=8191)
    parser.add_argument("--profile", action="store_true", help="cProfile the bulk run (slower; for finding costs)")
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_SETTLEMENT_DB", DEFAULT_DB),
        help="the database to (re)create; default $BENCH_SETTLEMENT_DB or %(default)s",
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "settlement.json")
    return parser.parse_args()


def configure_environment(args: argparse.Namespace) -> dict[str, str]:
    import environ

    environ.Env.read_env(ROOT / ".env", overwrite=False)
    base = urlparse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tote"))
    os.environ["DATABASE_URL"] = urlunparse(base._replace(path=f"/{args.database}"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "false",  # production's setting: DEBUG keeps a log of every query
            "FAST_PASSWORD_HASHER": "1",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "console",
            # The relay would publish the outbox to Redis while we measure; the rows are written
            # either way and `outbox_sweep` publishes them later.
            "REALTIME_RELAY_ON_COMMIT": "false",
            "CRON_SECRET": "bench-cron-secret",
        }
    )
    if args.chunk:
        os.environ["SETTLEMENT_CHUNK_SIZE"] = str(args.chunk)
    if args.threads:
        os.environ["SETTLEMENT_THREADS"] = str(args.threads)
    return {"host": base.hostname or "127.0.0.1", "port": str(base.port or 5432), "user": base.username or "postgres"}


def recreate_database(pg: dict[str, str], name: str) -> None:
    import psycopg

    if not name.startswith("tote_bench_"):
        raise SystemExit(f"refusing to drop {name!r}: a bench database is named tote_bench_*")
    with psycopg.connect(host=pg["host"], port=pg["port"], user=pg["user"], dbname="postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min, {os.cpu_count()} CPUs)"


# --- data -------------------------------------------------------------------------------------


class Data:
    """Writes players, slips, legs and the ledger with COPY, ids assigned here."""

    def __init__(self, players: int) -> None:
        from django.db import connection

        from ledger.models import Account
        from ledger.services import system_account

        self.connection = connection
        self.escrow = system_account(kind=Account.Kind.BETS_ESCROW, currency="NGN").pk
        self.clearing = system_account(kind=Account.Kind.BANK_CLEARING, currency="NGN").pk
        system_account(kind=Account.Kind.HOUSE, currency="NGN")
        self.users, self.wallets = self._players(players)
        self.rng = random.Random(7)  # noqa: S311 - benchmark data
        self.next_slip = self._max("betting_betslip") + 1
        self.next_leg = self._max("betting_betleg") + 1
        self.next_tx = self._max("ledger_transaction") + 1

    def _max(self, table: str) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(max(id), 0) FROM {table}")  # noqa: S608 - constant names
            return int(cursor.fetchone()[0])

    def _players(self, count: int) -> tuple[list[int], dict[int, int]]:
        from django.db import transaction

        from ledger.services import Line, lines_digest

        with transaction.atomic(), self.connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO users_user (password, is_superuser, username, first_name, last_name, email, is_staff,
                                        is_active, date_joined, default_currency, created_at)
                SELECT '!', false, 'bench' || g, '', '', NULL, false, true, now(), 'NGN', now()
                FROM generate_series(1, %s) g
                """,
                [count],
            )
            cursor.execute(
                """
                INSERT INTO ledger_account (kind, currency, user_id, balance, created_at)
                SELECT k, 'NGN', u.id, 0, now() FROM users_user u CROSS JOIN (VALUES ('wallet'), ('receivable')) kinds(k)
                WHERE u.username LIKE 'bench%%'
                """
            )
            cursor.execute("SELECT user_id, id FROM ledger_account WHERE kind = 'wallet' AND user_id IS NOT NULL")
            wallets = dict(cursor.fetchall())
            users = sorted(wallets)
            cursor.execute("SELECT COALESCE(max(id), 0) FROM ledger_transaction")
            tx = int(cursor.fetchone()[0]) + 1
            txs, postings = io.StringIO(), io.StringIO()
            for user_id in users:
                lines = [Line(self.clearing, -FUNDS, "NGN"), Line(wallets[user_id], FUNDS, "NGN")]
                txs.write(
                    f"{tx}\tdeposit:bench:{user_id}\tdeposit\tbench\t\t{lines_digest(lines)}\t{{}}\t\t{datetime.now(UTC).isoformat()}\t\\N\n"
                )
                postings.write(f"{tx}\t{self.clearing}\t{-FUNDS}\tNGN\n{tx}\t{wallets[user_id]}\t{FUNDS}\tNGN\n")
                tx += 1
            self._copy(cursor, txs, postings)
            cursor.execute(
                "UPDATE ledger_account SET balance = %s WHERE kind = 'wallet' AND user_id = ANY(%s)", [FUNDS, users]
            )
        return users, wallets

    @staticmethod
    def _copy(cursor: Any, txs: io.StringIO, postings: io.StringIO) -> None:
        with cursor.cursor.copy(
            "COPY ledger_transaction (id, idempotency_key, kind, reference, description, lines_digest, metadata, "
            "correlation_id, created_at, reverses_id) FROM STDIN"
        ) as copy:
            copy.write(txs.getvalue())
        with cursor.cursor.copy(
            "COPY ledger_posting (transaction_id, account_id, amount, currency) FROM STDIN"
        ) as copy:
            copy.write(postings.getvalue())
        cursor.execute("SELECT setval('ledger_transaction_id_seq', (SELECT max(id) FROM ledger_transaction))")

    def slips(
        self, *, selections: dict[int, list[tuple[int, Decimal]]], singles: int, combos: int, placed: datetime
    ) -> int:
        """`selections`: event id -> [(selection id, odds)]. Returns the slips written."""
        from django.db import transaction

        from betting.pricing import slip_potential_payout
        from ledger.services import Line, lines_digest

        rng = self.rng
        events = sorted(selections)
        slips, legs, txs, postings = io.StringIO(), io.StringIO(), io.StringIO(), io.StringIO()
        staked: dict[int, int] = {}
        liability: dict[int, int] = {}
        at = placed.isoformat()
        shapes = [("parlay", None, 2), ("parlay", None, 3), ("parlay", None, 4), ("system", 2, 3), ("system", 3, 4)]
        for n in range(singles + combos):
            user = self.users[n % len(self.users)]
            if n < singles:
                kind, k, count = "single", None, 1
            else:
                kind, k, count = shapes[n % len(shapes)]
            picked_events = rng.sample(events, count)
            picked = [rng.choice(selections[e]) for e in picked_events]
            stake = rng.choice(STAKES) * (math.comb(count, k) if k is not None else 1)
            potential = slip_potential_payout(kind=kind, stake=stake, odds=[o for _, o in picked], system_k=k)
            slip_id = self.next_slip
            self.next_slip += 1
            slips.write(
                f"{slip_id}\t{user}\t{kind}\t{k if k else chr(92) + 'N'}\t{count if k else chr(92) + 'N'}\t{stake}\tNGN\t"
                f"{potential}\tpending\t\\N\t0\t\\N\t{at}\t{at}\t\\N\tbench-{slip_id}\tbetter\tf\t\n"
            )
            for (selection_id, odds), event_id in zip(picked, picked_events, strict=True):
                legs.write(f"{self.next_leg}\t{slip_id}\t{selection_id}\t{event_id}\t{odds}\t{odds}\tf\n")
                self.next_leg += 1
                liability[selection_id] = liability.get(selection_id, 0) + potential - stake
            lines = [Line(self.wallets[user], -stake, "NGN"), Line(self.escrow, stake, "NGN")]
            txs.write(
                f"{self.next_tx}\tbet:place:{slip_id}\tbet.place\tslip:{slip_id}\t\t{lines_digest(lines)}\t"
                f'{{"slip": {slip_id}, "user": {user}}}\t\t{at}\t\\N\n'
            )
            postings.write(
                f"{self.next_tx}\t{self.wallets[user]}\t{-stake}\tNGN\n{self.next_tx}\t{self.escrow}\t{stake}\tNGN\n"
            )
            self.next_tx += 1
            staked[user] = staked.get(user, 0) + stake
        with transaction.atomic(), self.connection.cursor() as cursor:
            with cursor.cursor.copy(
                "COPY betting_betslip (id, user_id, type, system_k, system_n, stake, currency, potential_payout, status, "
                "payout, settlement_version, settled_at, placed_at, accepted_at, accept_after, client_key, accept_odds, "
                "live, reject_reason) FROM STDIN"
            ) as copy:
                copy.write(slips.getvalue())
            with cursor.cursor.copy(
                "COPY betting_betleg (id, slip_id, selection_id, event_id, odds_placed, odds_requested, live) FROM STDIN"
            ) as copy:
                copy.write(legs.getvalue())
            self._copy(cursor, txs, postings)
            cursor.execute("SELECT setval('betting_betslip_id_seq', (SELECT max(id) FROM betting_betslip))")
            cursor.execute("SELECT setval('betting_betleg_id_seq', (SELECT max(id) FROM betting_betleg))")
            users = sorted(staked)
            cursor.execute(
                """
                UPDATE ledger_account a SET balance = a.balance - v.staked
                FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, staked) WHERE a.id = v.id
                """,
                [[self.wallets[u] for u in users], [staked[u] for u in users]],
            )
            ids = sorted(liability)
            cursor.execute(
                """
                INSERT INTO betting_selectionliability AS l (selection_id, currency, amount)
                SELECT s, 'NGN', a FROM unnest(%s::bigint[], %s::bigint[]) AS v(s, a)
                ON CONFLICT (selection_id, currency) DO UPDATE SET amount = l.amount + EXCLUDED.amount
                """,
                [ids, [liability[i] for i in ids]],
            )
        with self.connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        return singles + combos


def make_events(count: int, *, start: datetime, prefix: str) -> dict[int, list[tuple[int, Decimal]]]:
    from betting.models import Selection
    from betting.services import EventSpec, MarketSpec, SelectionSpec, event_create

    def market(kind: str, outcomes: list[tuple[str, str]], line: str | None = None) -> MarketSpec:
        return MarketSpec(
            kind=kind,
            line=Decimal(line) if line else None,
            selections=[SelectionSpec(outcome=o, odds=Decimal(odds)) for o, odds in outcomes],
        )

    selections: dict[int, list[tuple[int, Decimal]]] = {}
    for n in range(count):
        event = event_create(
            spec=EventSpec(
                sport="SOCCER",
                league="EPL",
                name="",
                home=f"{prefix} Home {n}",
                away=f"{prefix} Away {n}",
                scheduled_start=start,
                external_id=f"{prefix}-{n}",
                markets=[
                    market("moneyline", [("home", "1.91"), ("away", "2.05")]),
                    market("1x2", [("home", "2.40"), ("draw", "3.20"), ("away", "3.10")]),
                    market("spread", [("home", "1.95"), ("away", "1.87")], "-0.75"),
                    market("total", [("over", "1.83"), ("under", "2.02")], "2.25"),
                ],
            )
        )
        selections[event.pk] = [(s.pk, s.odds) for s in Selection.objects.filter(market__event=event).order_by("pk")]
    return selections


def results_record(event_ids: list[int], rng: random.Random) -> None:
    from betting.services import event_result_record

    for event_id in event_ids:
        event_result_record(
            event_id=event_id, status="finished", home_score=rng.randint(0, 4), away_score=rng.randint(0, 3)
        )


# --- the naive baseline -----------------------------------------------------------------------


def naive_settle(slip_id: int) -> None:
    """One slip, one ORM transaction, as the original system settled: everything looked up and
    written row by row."""
    from django.conf import settings
    from django.db import transaction
    from django.utils import timezone

    from betting.models import BetSlip
    from betting.pricing import settlement_split, slip_payout
    from betting.services.limits import liability_release
    from ledger.models import Account
    from ledger.services import Entry, Line, entry_post, system_account, user_lines
    from realtime.outbox import event_emit
    from settlement.facts import event_facts, market_facts, outright_placings, selection_pick
    from settlement.grading import Ungraded, selection_grade

    now = timezone.now()
    with transaction.atomic(durable=True):
        slip = BetSlip.objects.select_for_update().get(pk=slip_id)
        if slip.status != BetSlip.Status.PENDING:
            return
        grades = []
        for leg in slip.legs.select_related("selection__market__event").order_by("pk"):
            selection = leg.selection
            market = selection.market
            grade = selection_grade(
                event=event_facts(market.event, placings=outright_placings(market.selections.all())),
                market=market_facts(market),
                pick=selection_pick(selection),
                line=selection.line,
                odds=leg.odds_placed,
                accepted_at=slip.accepted_at or slip.placed_at,
                in_play=leg.live,
                now=now,
                void_after_hours=settings.VOID_AFTER_HOURS,
            )
            if isinstance(grade, Ungraded):
                return
            grades.append(grade)
        priced = slip_payout(kind=slip.type, stake=slip.stake, legs=grades, system_k=slip.system_k)
        split = settlement_split(stake=slip.stake, payout=priced.payout)
        escrow = system_account(kind=Account.Kind.BETS_ESCROW, currency=slip.currency)
        house = system_account(kind=Account.Kind.HOUSE, currency=slip.currency)
        lines = [Line(escrow.pk, -slip.stake, slip.currency)]
        if split.escrow_to_house - split.house_to_wallet:
            lines.append(Line(house.pk, split.escrow_to_house - split.house_to_wallet, slip.currency))
        lines += user_lines(user_id=slip.user_id, currency=slip.currency, delta=priced.payout)
        tx_id = entry_post(
            Entry(key=f"bet:settle:{slip.pk}:v1", kind="bet.settle", lines=lines, reference=f"slip:{slip.pk}")
        )
        slip.status, slip.payout, slip.settlement_version, slip.settled_at = priced.status.value, priced.payout, 1, now
        slip.save(update_fields=["status", "payout", "settlement_version", "settled_at"])
        liability_release(
            selection_ids=[leg.selection_id for leg in slip.legs.all()],
            currency=slip.currency,
            exposure=slip.potential_payout - slip.stake,
        )
        event_emit(
            type="bet.settled",
            user_id=slip.user_id,
            data={"slip": slip.pk, "status": slip.status, "payout": slip.payout, "transaction": tx_id},
        )


# --- checks -----------------------------------------------------------------------------------


def books_check() -> dict[str, Any]:
    from django.db import connection

    from ledger.reconcile import reconcile

    report = reconcile()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT
              (SELECT count(*) FROM betting_betslip WHERE status = 'pending'),
              (SELECT count(*) FROM betting_betslip WHERE status IN ('won', 'lost', 'void')),
              (SELECT count(*) FROM ledger_transaction WHERE kind = 'bet.settle'),
              (SELECT count(*) FROM (SELECT reference FROM ledger_transaction WHERE kind = 'bet.settle'
                                     GROUP BY reference HAVING count(*) > 1) twice),
              (SELECT COALESCE(sum(p.amount), 0) FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id
               WHERE a.kind = 'bets_escrow'),
              (SELECT count(*) FROM realtime_outboxevent WHERE type = 'bet.settled')
            """
        )
        pending, settled, transactions, twice, escrow, events = cursor.fetchone()
    return {
        "reconcile_clean": report.clean,
        "pending": pending,
        "settled": settled,
        "settle_transactions": transactions,
        "slips_settled_twice": twice,
        "escrow_left": int(escrow),
        "bet_settled_events": events,
    }


# --- webhook latency --------------------------------------------------------------------------


def start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(cmd, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_http(url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own local server
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


def webhook_latency(args: argparse.Namespace, data: Data, placed: datetime) -> dict[str, Any]:
    from django.db import connection

    from betting.models import Event
    from settlement.services.webhook import SIGNATURE_HEADER, signature_header

    selections = make_events(1, start=placed + timedelta(hours=1), prefix="webhook")
    data.next_tx = data._max("ledger_transaction") + 1  # settlement has posted since
    data.slips(selections=selections, singles=args.webhook_slips, combos=0, placed=placed)
    event = Event.objects.get(pk=next(iter(selections)))
    import redis
    from django.conf import settings

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete("settlement")  # runs queued by the bulk part's results
    logs = ROOT / "var" / "bench"
    logs.mkdir(parents=True, exist_ok=True)
    worker = start(
        [str(ROOT / ".venv" / "bin" / "celery"), "-A", "config", "worker", "-Q", "settlement", "--concurrency", "1",
         "-n", f"bench-settlement-{os.getpid()}@%h", "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
        logs / "settlement-worker.log",
    )  # fmt: skip
    web = start(
        [str(ROOT / ".venv" / "bin" / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1", "--port",
         str(args.port), "--workers", "1", "--no-access-log", "--lifespan", "off"],
        logs / "settlement-web.log",
    )  # fmt: skip
    try:
        wait_http(f"http://127.0.0.1:{args.port}/api/health")
        time.sleep(3)  # the worker connects to the broker
        body = json.dumps({"event": event.pk, "status": "finished", "home_score": 2, "away_score": 1}).encode()
        request = urllib.request.Request(  # noqa: S310 - our own local server
            f"http://127.0.0.1:{args.port}/api/settlement/webhook",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature_header(body=body, timestamp=int(time.time())),
            },
        )
        sent = datetime.now(UTC)
        t0 = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            answered = time.perf_counter() - t0
            status = response.status
        deadline = time.monotonic() + 600
        pending = None
        while time.monotonic() < deadline:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FILTER (WHERE s.status = 'pending'), max(s.settled_at) FROM betting_betslip s "
                    "JOIN betting_betleg l ON l.slip_id = s.id WHERE l.event_id = %s",
                    [event.pk],
                )
                pending, last = cursor.fetchone()
            if pending == 0:
                break
            time.sleep(0.05)
        observed = time.perf_counter() - t0
    finally:
        stop(web)
        stop(worker)
    return {
        "slips": args.webhook_slips,
        "http_status": status,
        "webhook_answered_s": round(answered, 3),
        "last_settled_after_s": round((last - sent).total_seconds(), 3) if pending == 0 else None,
        "observed_all_settled_after_s": round(observed, 3),
        "left_pending": pending,
    }


# --- main -------------------------------------------------------------------------------------


def python_cpu_seconds() -> float:
    """CPU time used so far by the settling Python: this process (every thread) and its finished
    children."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class BackendCpu:
    """CPU time of the bench database's PostgreSQL backends (from /proc: only when the server runs
    on this machine), sampled every 20 ms while the bulk run goes: a run's threads open connections
    of their own and close them when done, so a backend is read while it lives. What one did after
    its last sample (20 ms at most) is missed. A shared machine's load stretches the wall clock,
    much less these."""

    def __init__(self, dsn: str) -> None:
        import threading

        self.dsn = dsn
        self.seen: dict[int, tuple[float, float]] = {}  # pid -> (first, last) CPU seconds read
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> BackendCpu:
        import psycopg

        self.conn = psycopg.connect(self.dsn, autocommit=True)
        self._read()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join()
        self._read()
        self.conn.close()

    def _sample(self) -> None:
        while not self.stopping.wait(0.02):
            self._read()

    def _read(self) -> None:
        pids = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        for (pid,) in pids:
            try:
                seconds = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
            except (OSError, ValueError, IndexError):
                continue
            first = self.seen.get(pid, (seconds, seconds))[0]
            self.seen[pid] = (first, seconds)

    @property
    def seconds(self) -> float:
        return sum(last - first for first, last in self.seen.values())


def main() -> int:
    args = parse_args()
    pg = configure_environment(args)
    recreate_database(pg, args.database)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from betting.models import BetSlip
    from settlement.models import SettlementRun
    from settlement.selectors import events_due
    from settlement.services.runs import settlement_run

    load_before = load_average()
    print(f"load average before: {load_before}", flush=True)
    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - t:.1f} s", flush=True)

    now = datetime.now(UTC)
    placed = now - timedelta(hours=4)
    t = time.perf_counter()
    data = Data(args.players)
    selections = make_events(args.events, start=now - timedelta(hours=3), prefix="bulk")
    written = data.slips(selections=selections, singles=args.singles, combos=args.combos, placed=placed)
    if args.skip_baseline:
        args.baseline = 0
    baseline_selections: dict[int, list[tuple[int, Decimal]]] = {}
    if args.baseline:
        baseline_selections = make_events(max(1, args.baseline // 1000), start=now - timedelta(hours=3), prefix="base")
        data.slips(selections=baseline_selections, singles=args.baseline, combos=0, placed=placed)
    print(f"data: {args.players} players, {written} slips over {args.events} events, "
          f"{args.baseline} baseline slips, written in {time.perf_counter() - t:.1f} s", flush=True)  # fmt: skip

    rng = random.Random(11)  # noqa: S311
    results_record(sorted(selections), rng)
    due = events_due()
    assert sorted(due) == sorted(selections), "every bulk event is due and no other"

    print("bulk settlement ...", flush=True)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    python_before = python_cpu_seconds()
    with BackendCpu(f"host={pg['host']} port={pg['port']} user={pg['user']} dbname={args.database}") as backends:
        t = time.perf_counter()
        run = settlement_run(trigger=SettlementRun.Trigger.COMMAND, requested_by="bench")
        bulk_s = time.perf_counter() - t
    python_s = python_cpu_seconds() - python_before
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    settled = BetSlip.objects.filter(legs__event_id__in=list(selections)).exclude(status="pending").distinct().count()
    bulk_rate = settled / bulk_s
    print(f"bulk: {settled} slips in {bulk_s:.2f} s = {bulk_rate:,.0f} slips/s (run {run.status}, "
          f"{settings.SETTLEMENT_THREADS} threads)", flush=True)  # fmt: skip
    bulk_cpu = {
        "python": round(python_s / settled * 1e6, 1),
        "postgres": round(backends.seconds / settled * 1e6, 1),
    }
    print(f"bulk CPU per slip (us; the load stretches these much less than the wall clock): {bulk_cpu}", flush=True)

    baseline_ids: list[int] = []
    baseline_s = baseline_rate = 0.0
    if baseline_selections:
        results_record(sorted(baseline_selections), rng)
        baseline_ids = list(
            BetSlip.objects.filter(legs__event_id__in=list(baseline_selections), status="pending").values_list(
                "pk", flat=True
            )
        )
        print(f"baseline: {len(baseline_ids)} slips, one ORM transaction each ...", flush=True)
        t = time.perf_counter()
        for slip_id in baseline_ids:
            naive_settle(slip_id)
        baseline_s = time.perf_counter() - t
        baseline_rate = len(baseline_ids) / baseline_s
        print(f"baseline: {len(baseline_ids)} slips in {baseline_s:.2f} s = {baseline_rate:,.0f} slips/s", flush=True)
    else:
        print("baseline: skipped (--skip-baseline)", flush=True)

    books = books_check()
    print(f"books: {books}", flush=True)
    webhook: dict[str, Any] | None = None
    if args.webhook_slips:
        print(f"webhook: an event with {args.webhook_slips} slips ...", flush=True)
        connection.close()
        webhook = webhook_latency(args, data, placed)
        print(f"webhook: {webhook}", flush=True)
        books_after = books_check()
        print(f"books after the webhook: {books_after}", flush=True)
        books["after_webhook"] = books_after
    load_after = load_average()
    result = {
        "slips": settled,
        "events": args.events,
        "singles": args.singles,
        "combos": args.combos,
        "threads": settings.SETTLEMENT_THREADS,
        "bulk_seconds": round(bulk_s, 3),
        "bulk_slips_per_s": round(bulk_rate, 1),
        "bulk_cpu_us_per_slip": bulk_cpu,
        "baseline_slips": len(baseline_ids),
        "baseline_seconds": round(baseline_s, 3),
        "baseline_slips_per_s": round(baseline_rate, 1),
        "ratio": round(bulk_rate / baseline_rate, 1) if baseline_rate else None,
        "books": books,
        "webhook": webhook,
        "load_before": load_before,
        "load_after": load_after,
    }
    if baseline_rate:
        print(
            f"\nsettlement: {bulk_rate:,.0f} slips/s bulk vs {baseline_rate:,.0f} slips/s naive (sample of "
            f"{len(baseline_ids)}): x{bulk_rate / baseline_rate:.1f}; reconcile clean: {books['reconcile_clean']}"
        )
    else:
        print(f"\nsettlement: {bulk_rate:,.0f} slips/s bulk (no baseline); reconcile clean: {books['reconcile_clean']}")
    print(f"load average after: {load_after}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2, default=str))
    ok = books["reconcile_clean"] and books["slips_settled_twice"] == 0 and books["pending"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
