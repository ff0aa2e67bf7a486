"""Benchmark: settle an Up/Down round of 100,000 bets, set-based, beside one bet per transaction.

    .venv/bin/python bench/rounds.py [--bets 100000] [--users 20000] [--baseline-bets N]

Builds its own database (`tote_bench_rounds`, dropped and created), funds the players, and
fills two identical rounds with the same stakes. Round A is settled by the real service
(`round_settle`: operator prices, the decision, chunks of ROUNDS_SETTLE_CHUNK bets each posted
with one set-based `entries_post`, fee and dust). Round B is settled the plain way: the same
prices and decision, then every bet in its own database transaction (lock the bet, compute its
payout, `credit_lines` + `entry_post` for a winner, update the row), then the same fee and dust.
Both are timed from the decision to the round's end, both books are reconciled, and the payouts
of A and B are compared bet by bet.

`--baseline-bets N` settles only the first N bets of B one by one and extrapolates the rate to
the whole round; the output says so. By default B is measured in full.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB_NAME = "tote_bench_rounds"


def make_database() -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DB_NAME)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DB_NAME)))


def setup_django() -> None:
    os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["ROUNDS_ORACLE"] = "manual"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(*, bets: int, users: int, seed: int) -> tuple[str, str]:
    """Players with money and two locked rounds holding the same stakes; returns their codes."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from betting.models import Round, RoundBet
    from betting.rounds import nyse
    from betting.rounds.selectors import round_pools_live
    from betting.rounds.services import manual_price_set
    from ledger.models import Account
    from ledger.services import Entry, Line, entries_post, system_account
    from users.models import User

    rng = random.Random(seed)
    stakes = [("UP" if rng.random() < 0.55 else "DOWN", rng.randint(1, 5_000_000)) for _ in range(bets)]
    owners = [rng.randrange(users) for _ in range(bets)]
    per_user = [0] * users
    for (_, amount), owner in zip(stakes, owners, strict=True):
        per_user[owner] += 2 * amount  # each player bets the same in both rounds

    password = make_password(None)
    User.objects.bulk_create(
        [User(username=f"bench{i}", email=f"bench{i}@example.com", password=password) for i in range(users)],
        batch_size=5000,
    )
    user_ids = list(User.objects.order_by("id").values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO ledger_account (kind, currency, user_id, balance, created_at)
               SELECT k, 'USDC', u, 0, now() FROM unnest(%s::bigint[]) u CROSS JOIN unnest(%s::text[]) k""",
            [user_ids, ["wallet", "receivable"]],
        )
    wallets = dict(
        Account.objects.filter(kind="wallet", currency="USDC").values_list("user_id", "id")  # type: ignore[arg-type]
    )
    clearing = system_account(kind="bank_clearing", currency="USDC").pk
    escrow = system_account(kind="bets_escrow", currency="USDC").pk
    with transaction.atomic():
        entries_post(
            [
                Entry(
                    key=f"deposit:bench:{uid}",
                    kind="deposit",
                    lines=[Line(clearing, -(per_user[i] + 1), "USDC"), Line(wallets[uid], per_user[i] + 1, "USDC")],
                )
                for i, uid in enumerate(user_ids)
            ]
        )

    codes = []
    for day in (date(2026, 3, 9), date(2026, 3, 10)):
        times = nyse.round_times(day)
        found = Round.objects.create(
            code=times.code,
            trading_date=day,
            asset="QQQ",
            currency="USDC",
            status=Round.Status.OPEN,
            open_at=times.open_at,
            lock_at=times.lock_at,
            close_at=times.close_at,
            settle_at=times.settle_at,
            void_after=times.void_after,
            reference_date=times.reference_date,
        )
        for start in range(0, bets, 10_000):
            with transaction.atomic():
                rows = RoundBet.objects.bulk_create(
                    [
                        RoundBet(
                            round=found,
                            user_id=user_ids[owners[i]],
                            side=stakes[i][0],
                            amount=stakes[i][1],
                            currency="USDC",
                            idempotency_key=f"{times.code}:{i}",
                        )
                        for i in range(start, min(start + 10_000, bets))
                    ]
                )
                entries_post(
                    [
                        Entry(
                            key=f"round:{times.code}:bet:{row.pk}",
                            kind="round_bet",
                            lines=[Line(wallets[row.user_id], -row.amount, "USDC"), Line(escrow, row.amount, "USDC")],
                            reference=f"round:{times.code}",
                        )
                        for row in rows
                    ]
                )
        pools = round_pools_live(round_id=found.pk)
        Round.objects.filter(pk=found.pk).update(
            status=Round.Status.LOCKED,
            up_pool=pools.up,
            down_pool=pools.down,
            up_bets=pools.up_bets,
            down_bets=pools.down_bets,
        )
        codes.append(times.code)
    # The same move for both: each round closes 0.01 above its reference.
    manual_price_set(asset="QQQ", session_date=date(2026, 3, 6), price="600.00", entered_by="bench")
    manual_price_set(asset="QQQ", session_date=date(2026, 3, 9), price="600.01", entered_by="bench")
    manual_price_set(asset="QQQ", session_date=date(2026, 3, 10), price="600.02", entered_by="bench")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    return codes[0], codes[1]


def settle_one_by_one(code: str, limit: int | None) -> tuple[float, int]:
    """The plain way: one database transaction per bet. Returns (seconds, bets settled)."""
    from django.db import transaction
    from django.utils import timezone

    from betting.models import Round, RoundBet
    from betting.rounds.oracles import oracle_from_settings
    from betting.rounds.prices import round_prices_resolve
    from betting.rounds.settlement import _decide, _finish, _split_of
    from ledger.services import Entry, credit_lines, entry_post, system_account
    from realtime.outbox import event_emit

    found = Round.objects.get(code=code)
    started = time.perf_counter()
    found = round_prices_resolve(round=found, oracle=oracle_from_settings())
    assert found.closing_price is not None and found.reference_price is not None
    found = _decide(
        found, result="UP" if found.closing_price > found.reference_price else "DOWN", reason="", by="bench"
    )
    split = _split_of(found)
    escrow = system_account(kind="bets_escrow", currency=found.currency).pk
    ids = list(RoundBet.objects.filter(round=found).order_by("id").values_list("id", flat=True))
    if limit is not None:
        ids = ids[:limit]
    for bet_id in ids:
        with transaction.atomic(durable=True):
            row = RoundBet.objects.select_for_update().get(pk=bet_id)
            if row.status != RoundBet.Status.PENDING:
                continue
            payout = split.payout(side=row.side, stake=row.amount)
            if payout:
                lines = credit_lines(
                    user_id=row.user_id, currency=row.currency, amount=payout, source_account_id=escrow
                )
                tx_id = entry_post(
                    Entry(
                        key=f"round:{code}:payout:{row.pk}",
                        kind="round_payout",
                        lines=lines,
                        reference=f"round:{code}",
                        metadata={"round": code, "bet": row.pk, "stake": row.amount},
                    )
                )
                RoundBet.objects.filter(pk=row.pk, status=RoundBet.Status.PENDING).update(
                    status=RoundBet.Status.WON, payout=payout, payout_transaction_id=tx_id, settled_at=timezone.now()
                )
                event_emit(
                    type="balance.updated",
                    user_id=row.user_id,
                    data={"currency": row.currency, "reason": "round_payout", "round": code, "amount": payout},
                )
            else:
                RoundBet.objects.filter(pk=row.pk, status=RoundBet.Status.PENDING).update(
                    status=RoundBet.Status.LOST, payout=0, settled_at=timezone.now()
                )
    if limit is None:
        finished = _finish(found.pk)
        assert finished.status == Round.Status.SETTLED, finished.status
    return time.perf_counter() - started, len(ids)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bets", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--baseline-bets", type=int, help="settle only this many bets one by one and extrapolate")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    make_database()
    setup_django()
    from django.conf import settings

    from betting.models import Round, RoundBet
    from betting.rounds.settlement import round_settle
    from ledger.reconcile import reconcile

    print(f"filling {DB_NAME}: {args.users:,} players, two rounds of {args.bets:,} bets ...", flush=True)
    started = time.perf_counter()
    code_a, code_b = fill(bets=args.bets, users=args.users, seed=args.seed)
    print(f"  filled in {time.perf_counter() - started:.1f} s", flush=True)

    print(f"A  set-based settlement of round {code_a} (chunks of {settings.ROUNDS_SETTLE_CHUNK:,}) ...", flush=True)
    started = time.perf_counter()
    outcome = round_settle(code=code_a)
    set_seconds = time.perf_counter() - started
    assert outcome.round.status == Round.Status.SETTLED, outcome.message
    set_rate = args.bets / set_seconds
    print(f"   {set_seconds:.2f} s, {set_rate:,.0f} bets/s ({outcome.bets_paid:,} winners paid)", flush=True)

    which = f"first {args.baseline_bets:,} bets" if args.baseline_bets else "every bet"
    print(f"B  one bet per transaction, round {code_b} ({which}) ...", flush=True)
    base_seconds, base_bets = settle_one_by_one(code_b, args.baseline_bets)
    base_rate = base_bets / base_seconds
    extrapolated = args.bets / base_rate
    note = "" if base_bets == args.bets else f" -> {extrapolated:.0f} s for {args.bets:,} bets, EXTRAPOLATED"
    print(f"   {base_seconds:.2f} s for {base_bets:,} bets, {base_rate:,.0f} bets/s{note}", flush=True)

    report = reconcile()
    a_bets = dict(RoundBet.objects.filter(round__code=code_a).values_list("idempotency_key", "payout"))
    same = all(
        a_bets[key.replace(code_b, code_a)] == payout
        for key, payout in RoundBet.objects.filter(round__code=code_b)
        .exclude(status=RoundBet.Status.PENDING)
        .values_list("idempotency_key", "payout")
    )
    print(f"ledger reconciled: {'clean' if report.clean else report.breaks}; payouts of A and B agree: {same}")
    print()
    print(f"set-based:      {set_rate:>10,.0f} bets/s  ({set_seconds:.2f} s for {args.bets:,} bets)")
    measured = "measured in full" if base_bets == args.bets else f"measured on {base_bets:,} bets, extrapolated"
    print(f"one per tx:     {base_rate:>10,.0f} bets/s  ({measured})")
    print(f"ratio:          {set_rate / base_rate:>10.1f} x")
    return 0 if report.clean and same else 1


if __name__ == "__main__":
    sys.exit(main())
