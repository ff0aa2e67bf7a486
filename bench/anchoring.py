"""Records anchored per second on anvil: pipelined (one transaction per record, nonces managed
by us, all sent before any receipt is awaited) beside the same records sent one at a time,
waiting for each receipt before the next. Both go through the same service
(`chain_records_anchor`), database writes included.

Two node setups: anvil mining on every transaction (automine: a receipt is ready at once, so
the figure is the cost of our own work) and anvil with 1-second blocks (closer to Polygon,
~2 s blocks, where waiting per receipt costs a block each).

    .venv/bin/python bench/anchoring.py [--records 200] [--block-records 20]

Uses its own database, tote_bench_anchoring (created, migrated, and left for inspection).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/tote_bench_anchoring"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("LOG_LEVEL", "ERROR")


def setup_django() -> None:
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'tote_bench_anchoring'").fetchone():
            conn.execute("CREATE DATABASE tote_bench_anchoring")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def run(*, records: int, block_time_s: float | None, pipelined: bool, first_id: int) -> float:
    """Seconds to take `records` new records from pending to confirmed on a fresh anvil."""
    from ledger.chain.anchoring import chain_records_anchor
    from ledger.chain.client import ChainClient
    from ledger.chain.config import ANVIL_CHAIN_ID, ANVIL_DEV_KEY, chain_config
    from ledger.chain.deploy import bet_ledger_deploy
    from ledger.chain.local import Anvil, free_port
    from ledger.chain.services import chain_record_request
    from ledger.models import ChainRecord

    ChainRecord.objects.all().delete()
    node = Anvil(port=free_port(), block_time_s=block_time_s).start()
    try:
        config = chain_config(
            network="anvil",
            rpc_url=node.url,
            chain_id=ANVIL_CHAIN_ID,
            private_key=ANVIL_DEV_KEY,
            contract_address="",
            confirmations=1,
            receipt_wait_s=600.0,
            min_priority_fee_wei=10**9,
            batch_size=records,
        )
        client = ChainClient.connect(config)
        client = client.with_contract(bet_ledger_deploy(client=client).address)
        for n in range(records):
            chain_record_request(subject_id=first_id + n, win_amount=100_000_000 + n, currency="NGN")
        started = time.perf_counter()
        if pipelined:
            while ChainRecord.objects.exclude(status=ChainRecord.Status.CONFIRMED).exists():
                chain_records_anchor(client=client, limit=records)
        else:
            for _ in range(records):
                chain_records_anchor(client=client, limit=1)  # sends one, waits for its receipt
        elapsed = time.perf_counter() - started
        confirmed = ChainRecord.objects.filter(status=ChainRecord.Status.CONFIRMED).count()
        assert confirmed == records, f"{confirmed} of {records} confirmed"
        assert client.stats()[0] == records
        return elapsed
    finally:
        node.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200, help="records per run on automine")
    parser.add_argument("--block-records", type=int, default=20, help="records per run with 1 s blocks")
    args = parser.parse_args()
    setup_django()

    print(f"anvil, automine, {args.records} records")
    pipelined = run(records=args.records, block_time_s=None, pipelined=True, first_id=1)
    one_by_one = run(records=args.records, block_time_s=None, pipelined=False, first_id=1)
    print(f"  pipelined            {args.records / pipelined:8.1f} records/s  ({pipelined:.2f} s)")
    print(f"  wait for each (base) {args.records / one_by_one:8.1f} records/s  ({one_by_one:.2f} s)")
    print(f"  ratio                {one_by_one / pipelined:8.1f}x")

    print(f"anvil, 1 s blocks, {args.block_records} records")
    pipelined = run(records=args.block_records, block_time_s=1, pipelined=True, first_id=1)
    one_by_one = run(records=args.block_records, block_time_s=1, pipelined=False, first_id=1)
    print(f"  pipelined            {args.block_records / pipelined:8.1f} records/s  ({pipelined:.2f} s)")
    print(f"  wait for each (base) {args.block_records / one_by_one:8.1f} records/s  ({one_by_one:.2f} s)")
    print(f"  ratio                {one_by_one / pipelined:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
