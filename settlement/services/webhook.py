"""The signed result push: `POST /api/settlement/webhook`.

Header `X-Tote-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (the
form Stripe uses; several `v1=` may be sent while a secret is rotated). The signature is checked
over the raw bytes, constant-time, then the timestamp within SETTLEMENT_WEBHOOK_TOLERANCE_S
either way. Body:

    {"event": 123 | {"provider": "sportsgameodds", "external_id": "..."},
     "status": "finished", "home_score": 2, "away_score": 1,        (optional: a result to record)
     "placings": [{"selection": 45, "place": 1}, ...]}               (optional: outrights)

A push is recorded by the digest of what was signed before anything else happens, so the same
request sent again (a replay, a retry) does nothing; a genuinely new push of the same result
changes nothing either (the result version moves only when the result does) and only queues a
settlement of the event, which finds nothing left to do.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from betting.models import Event
from betting.services import event_result_record
from core.errors import ApplicationError, DependencyDown, NotFound
from settlement.models import ResultPush, SettlementRun
from settlement.services.runs import settlement_request

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "X-Tote-Signature"

# While the webhook records a result it queues the settlement itself (as a webhook run).
_recording_push: contextvars.ContextVar[bool] = contextvars.ContextVar("settlement_recording_push", default=False)


class SignatureInvalid(ApplicationError):
    status_code = 401
    code = "invalid_signature"


def signature_header(*, body: bytes, timestamp: int, secret: str | None = None) -> str:
    """The X-Tote-Signature value for `body` signed at `timestamp` (senders, tests, the demo)."""
    key = (secret if secret is not None else settings.SETTLEMENT_WEBHOOK_SECRET).encode()
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_verify(*, header: str | None, body: bytes, now: datetime) -> int:
    """Refuse (401) a push not signed with our secret or signed too far from now; returns its timestamp."""
    secret = settings.SETTLEMENT_WEBHOOK_SECRET
    if not secret:
        raise DependencyDown(
            f"{SIGNATURE_HEADER} cannot be checked: SETTLEMENT_WEBHOOK_SECRET is not configured.", code="webhook_off"
        )
    if not header:
        raise SignatureInvalid(f"The {SIGNATURE_HEADER} header is missing.", code="missing_signature")
    timestamp: int | None = None
    given: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            given.append(value.strip())
    if timestamp is None or not given:
        raise SignatureInvalid(
            f"The {SIGNATURE_HEADER} header reads t=<unix seconds>,v1=<hex>.", code="bad_signature_header"
        )
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest().encode()
    matched = False
    for candidate in given:  # every candidate compared, constant-time; no early exit
        matched |= hmac.compare_digest(candidate.encode(), expected)
    if not matched:
        raise SignatureInvalid(f"The {SIGNATURE_HEADER} header does not match the body.")
    skew = abs(now.timestamp() - timestamp)
    if skew > settings.SETTLEMENT_WEBHOOK_TOLERANCE_S:
        raise SignatureInvalid(
            "The push was signed too long ago or in the future.",
            code="timestamp_out_of_tolerance",
            details={"tolerance_s": settings.SETTLEMENT_WEBHOOK_TOLERANCE_S},
        )
    return timestamp


def push_digest(*, timestamp: int, body: bytes) -> str:
    return hashlib.sha256(f"{timestamp}.".encode() + body).hexdigest()


@dataclass(frozen=True)
class PushOutcome:
    push: ResultPush
    duplicate: bool
    run: SettlementRun | None


def event_resolve(reference: int | Mapping[str, str]) -> Event:
    if isinstance(reference, int):
        event = Event.objects.filter(pk=reference).first()
    else:
        event = Event.objects.filter(provider=reference["provider"], external_id=reference["external_id"]).first()
    if event is None:
        raise NotFound("No such event.", code="event_not_found", details={"event": reference})
    return event


def result_push_accept(
    *,
    timestamp: int,
    raw_body: bytes,
    payload: dict[str, Any],
    event_reference: int | Mapping[str, str],
    status: str | None = None,
    home_score: int | None = None,
    away_score: int | None = None,
    placings: Mapping[int, int] | None = None,
    now: datetime | None = None,
) -> PushOutcome:
    """A verified push: claim it (a replay stops here), record its result, queue the settlement."""
    now = now or timezone.now()
    event = event_resolve(event_reference)
    digest = push_digest(timestamp=timestamp, body=raw_body)
    try:
        with transaction.atomic(durable=True):
            push = ResultPush.objects.create(
                digest=digest,
                signed_at=datetime.fromtimestamp(timestamp, tz=UTC),
                received_at=now,
                event=event,
                body=payload,
            )
    except IntegrityError:
        log.info("settlement.push_duplicate", event_id=event.pk, digest=digest)
        return PushOutcome(push=ResultPush.objects.get(digest=digest), duplicate=True, run=None)

    version = event.result_version
    if status is not None:
        try:
            with _suppress_result_hook():
                event = event_result_record(
                    event_id=event.pk,
                    status=status,
                    home_score=home_score,
                    away_score=away_score,
                    placings=placings,
                    now=now,
                )
        except ApplicationError:
            # Refused (a transition the event cannot make, bad scores): the sender may fix and resend.
            ResultPush.objects.filter(pk=push.pk).delete()
            raise
    run = settlement_request(trigger=SettlementRun.Trigger.WEBHOOK, event_id=event.pk, requested_by="webhook")
    changed = event.result_version != version
    ResultPush.objects.filter(pk=push.pk).update(result_changed=changed, run=run)
    push.result_changed, push.run = changed, run
    log.info("settlement.push_accepted", event_id=event.pk, result_changed=changed, run=run.pk)
    return PushOutcome(push=push, duplicate=False, run=run)


@contextmanager
def _suppress_result_hook() -> Iterator[None]:
    token = _recording_push.set(True)
    try:
        yield
    finally:
        _recording_push.reset(token)


def result_hook_suppressed() -> bool:
    return _recording_push.get()
