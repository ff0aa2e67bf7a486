"""GET /api/ledger/entries and GET /api/ledger/export.csv."""

from __future__ import annotations

import csv
import io
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from ledger.chain.artefact import bet_hash
from ledger.models import ChainRecord

pytestmark = pytest.mark.django_db
Status = ChainRecord.Status


def _record(subject_id: int, *, status: str = Status.CONFIRMED, created: datetime | None = None) -> ChainRecord:
    confirmed = status == Status.CONFIRMED
    return ChainRecord(
        subject_id=subject_id,
        bet_hash=bet_hash(subject_id),
        win_amount=100_000_000 + subject_id,
        currency="NGN",
        status=status,
        tx_hash=f"0x{subject_id:064x}" if confirmed else "",
        block_number=1000 + subject_id if confirmed else None,
        block_timestamp=datetime(2026, 1, 15, 14, 30, tzinfo=UTC) if confirmed else None,
        network="amoy",
        chain_id=80002,
        created_at=created or datetime(2026, 1, 15, 14, 0, tzinfo=UTC),
    )


def test_entries_are_public_paginated_and_newest_first(api: APIClient) -> None:
    ChainRecord.objects.bulk_create([_record(i) for i in range(1, 8)])

    response = api.get("/api/ledger/entries", {"page_size": 5})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 7 and len(body["results"]) == 5 and body["next"]
    first = body["results"][0]
    assert first["bet_slip_id"] == 7
    assert first["bet_hash"] == bet_hash(7)
    assert first["win_amount"] == {"amount": 100_000_007, "currency": "NGN", "display": "NGN 1,000,000.07"}
    assert (first["status"], first["block_number"], first["network"]) == ("confirmed", 1007, "amoy")
    assert first["tx_hash"] == f"0x{7:064x}"


def test_entries_filter_by_status_and_date(api: APIClient) -> None:
    ChainRecord.objects.bulk_create(
        [
            _record(1, created=datetime(2026, 1, 14, 23, 59, tzinfo=UTC)),
            _record(2, created=datetime(2026, 1, 15, 0, 0, tzinfo=UTC)),
            _record(3, status=Status.PENDING, created=datetime(2026, 1, 16, 12, 0, tzinfo=UTC)),
            _record(4, created=datetime(2026, 1, 17, 0, 0, tzinfo=UTC)),
        ]
    )

    def ids(**params: Any) -> list[int]:
        response = api.get("/api/ledger/entries", params)
        assert response.status_code == 200
        return [row["bet_slip_id"] for row in response.json()["results"]]

    assert ids(status="pending") == [3]
    assert ids(date_from="2026-01-15", date_to="2026-01-16") == [3, 2]
    assert ids(status="confirmed", date_from="2026-01-15") == [4, 2]


@pytest.mark.parametrize(
    "params",
    [{"status": "lost"}, {"date_from": "15/01/2026"}, {"date_from": "2026-01-16", "date_to": "2026-01-15"}],
)
def test_bad_filters_are_a_400_with_the_error_body(api: APIClient, params: dict[str, str]) -> None:
    for path in ("/api/ledger/entries", "/api/ledger/export.csv"):
        response = api.get(path, params)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"


def test_the_csv_has_the_documented_columns(api: APIClient) -> None:
    ChainRecord.objects.bulk_create([_record(1), _record(2, status=Status.PENDING)])

    response = api.get("/api/ledger/export.csv")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == [
        ["betSlipId", "betHash", "winAmount", "txHash", "blockNumber", "timestamp"],
        ["1", bet_hash(1), "100000001", f"0x{1:064x}", "1001", "2026-01-15T14:30:00Z"],
        ["2", bet_hash(2), "100000002", "", "", "2026-01-15T14:00:00Z"],
    ]
    confirmed = api.get("/api/ledger/export.csv", {"status": "confirmed"})
    assert b"".join(confirmed.streaming_content).decode().count("\n") == 2


def test_ten_thousand_records_stream_in_chunks_without_loading_them_all(api: APIClient) -> None:
    total = 10_000
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO ledger_chainrecord (subject_kind, subject_id, bet_hash, win_amount, currency, status,
                network, contract_address, sender, tx_hash, tx_hashes, nonce, block_number, block_timestamp, attempts,
                next_attempt_at, error, created_at, updated_at, confirmed_at)
            SELECT 'bet_slip', g, encode(sha256(g::text::bytea), 'hex'), 100000000 + g, 'NGN', 'confirmed',
                'amoy', '', '', '0x' || lpad(to_hex(g), 64, '0'), '[]', g, 1000 + g, now(), 1,
                now(), '', now(), now(), now()
            FROM generate_series(1, %s) AS g
            """,
            [total],
        )
    assert ChainRecord.objects.get(subject_id=77).bet_hash == bet_hash(77)

    # what holding them all would cost, measured the same way
    tracemalloc.start()
    everything = list(ChainRecord.objects.values_list())
    _, all_at_once = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del everything

    response = api.get("/api/ledger/export.csv")
    assert isinstance(response, StreamingHttpResponse)
    chunks = iter(response.streaming_content)
    with CaptureQueriesContext(connection) as first_queries:
        header = next(chunks)
        first_row = next(chunks)
    assert header.startswith(b"betSlipId,")
    assert first_row.startswith(b"1,")
    assert len(first_queries) == 1 and "LIMIT 2000" in first_queries[0]["sql"]  # one chunk, not the table

    tracemalloc.start()
    lines = 2
    with CaptureQueriesContext(connection) as queries:
        for _ in chunks:
            lines += 1
    _, streaming_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert lines == total + 1
    assert len(queries) == 5  # the remaining chunks of 2,000 and the empty one that ends the walk
    assert streaming_peak < all_at_once / 3, (streaming_peak, all_at_once)
