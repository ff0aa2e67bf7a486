"""Where big wins come from. The ledger knows nothing of bets: the settlement layer plugs in a
source, named by BIG_WIN_CANDIDATE_SOURCE (a dotted path), that is called as
`source(threshold=, currency=, limit=)` and yields `(subject_id, win_amount, currency)` of
settled winning slips at or above the threshold with no chain record yet, oldest first
(`recorded_subject_ids()` gives the ids to leave out)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import structlog
from django.conf import settings
from django.db.models import QuerySet
from django.utils.module_loading import import_string

from core.errors import ApplicationError
from ledger.chain.services import chain_record_request
from ledger.models import ChainRecord

log = structlog.get_logger(__name__)

NO_SOURCE_MESSAGE = (
    "No big-win candidate source is configured (BIG_WIN_CANDIDATE_SOURCE is empty): nothing new was "
    "selected; records already requested through chain_record_request are anchored."
)


class BigWinCandidate(NamedTuple):
    subject_id: int
    win_amount: int
    currency: str


CandidateSource = Callable[..., Iterable[tuple[int, int, str]]]


@dataclass
class CandidatesReport:
    source: str = ""
    seen: int = 0
    requested: int = 0
    skipped: int = 0


def candidate_source() -> CandidateSource | None:
    path = settings.BIG_WIN_CANDIDATE_SOURCE
    return import_string(path) if path else None


def is_big_win(*, win_amount: int, currency: str) -> bool:
    return currency == settings.BIG_WIN_CURRENCY and win_amount >= settings.BIG_WIN_THRESHOLD


def recorded_subject_ids(kind: str = ChainRecord.SubjectKind.BET_SLIP) -> QuerySet[ChainRecord, Any]:
    """Subject ids that already have a record, for a source's `exclude(id__in=...)`."""
    return ChainRecord.objects.filter(subject_kind=kind).values("subject_id")


def big_wins_request(*, limit: int, dry_run: bool = False) -> CandidatesReport:
    """Ask the configured source for candidates and request a record for each big win."""
    report = CandidatesReport(source=settings.BIG_WIN_CANDIDATE_SOURCE)
    source = candidate_source()
    if source is None:
        return report
    for subject_id, win_amount, currency in source(
        threshold=settings.BIG_WIN_THRESHOLD, currency=settings.BIG_WIN_CURRENCY, limit=limit
    ):
        report.seen += 1
        if not is_big_win(win_amount=win_amount, currency=currency):
            report.skipped += 1
            log.warning("chain.candidate_below_threshold", subject_id=subject_id, win_amount=win_amount)
            continue
        is_new = not ChainRecord.objects.filter(subject_id=subject_id).exists()
        if dry_run:
            report.requested += is_new
            continue
        try:
            chain_record_request(subject_id=subject_id, win_amount=win_amount, currency=currency)
        except ApplicationError as exc:
            report.skipped += 1
            log.warning("chain.candidate_refused", subject_id=subject_id, error=exc.message)
            continue
        report.requested += is_new
    return report
