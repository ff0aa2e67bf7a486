"""Reads of chain records: the filtered list and a constant-memory walk for the CSV export."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import QuerySet

from ledger.models import ChainRecord

EXPORT_COLUMNS = ("betSlipId", "betHash", "winAmount", "txHash", "blockNumber", "timestamp")


def chain_records(
    *, status: str | None = None, date_from: date | None = None, date_to: date | None = None
) -> QuerySet[ChainRecord]:
    """Records newest first; dates are whole UTC days of `created_at`, both ends included."""
    records = ChainRecord.objects.all()
    if status:
        records = records.filter(status=status)
    if date_from:
        records = records.filter(created_at__gte=datetime.combine(date_from, time.min, tzinfo=UTC))
    if date_to:
        end = datetime.combine(date_to + timedelta(days=1), time.min, tzinfo=UTC)
        records = records.filter(created_at__lt=end)
    return records.order_by("-id")


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


def chain_records_export_rows(
    *, status: str | None = None, date_from: date | None = None, date_to: date | None = None, chunk: int = 2000
) -> Iterator[tuple[str, ...]]:
    """Rows in id order, fetched `chunk` at a time by keyset (id > last): memory stays flat
    however many records there are, and no cursor is held open between chunks."""
    records = chain_records(status=status, date_from=date_from, date_to=date_to).order_by("id")
    fields = ("id", "subject_id", "bet_hash", "win_amount", "tx_hash", "block_number", "block_timestamp", "created_at")
    last_id = 0
    while True:
        rows = list(records.filter(id__gt=last_id).values_list(*fields)[:chunk])
        if not rows:
            return
        for _, subject_id, hash_, amount, tx_hash, block, block_time, created in rows:
            yield (
                str(subject_id),
                hash_,
                str(amount),
                tx_hash,
                "" if block is None else str(block),
                _iso(block_time or created),
            )
        last_id = rows[-1][0]
