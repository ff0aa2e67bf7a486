"""A big-win candidate source as the settlement layer will provide one (BIG_WIN_CANDIDATE_SOURCE)."""

from __future__ import annotations

from collections.abc import Iterator

from ledger.chain.candidates import recorded_subject_ids

# (slip id, paid amount, currency), oldest settled first.
SETTLED_WINS = [
    (101, 150_000_000, "NGN"),
    (102, 99_999_999, "NGN"),  # one kobo short of the threshold
    (103, 100_000_000, "NGN"),
    (104, 500_000_000, "USD"),  # another currency: not a big win by this threshold
    (105, 250_000_000, "NGN"),
]


def settled_big_wins(*, threshold: int, currency: str, limit: int) -> Iterator[tuple[int, int, str]]:
    recorded = {row["subject_id"] for row in recorded_subject_ids()}
    wins = [w for w in SETTLED_WINS if w[0] not in recorded and w[2] == currency and w[1] >= threshold]
    yield from wins[:limit]


def everything(*, threshold: int, currency: str, limit: int) -> Iterator[tuple[int, int, str]]:
    """A careless source that ignores the threshold: the ledger still anchors big wins only."""
    yield from SETTLED_WINS[:limit]
