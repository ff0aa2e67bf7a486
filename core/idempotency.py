"""`Idempotency-Key` for every POST that moves money.

Same key and same body replays the first successful response (with `Idempotent-Replayed: true`);
the same key with another body is a 409; concurrent requests with one key run one at a time
(a PostgreSQL advisory lock on the key), so exactly one executes and the others replay it. An
error response is not stored: an error changed nothing, so the client may retry with the key.
Cost: one round trip to lock and read, one to store a success, one to unlock.

A service that writes in one transaction of its own (bet placement) can do the same inside it
at no extra round trip (`Recording`): it takes the lock as a transaction-level advisory lock
and reads the stored answer in its first statement, and stores its answer in its last; the
commit releases the lock. Both kinds of lock are the same lock, so the two ways exclude each
other for one key.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.authentication import DeferredUser
from core.errors import Conflict, ValidationFailed
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
LOCK_WAIT_S = 15.0

V = TypeVar("V", bound=Callable[..., HttpResponse])

# The IdempotencyRecord of a success; by hand, as this runs after every money-moving POST.
STORE_COLUMNS = "scope, key, method, path, request_hash, response_status, response_body, created_at"
_STORE = f"INSERT INTO core_idempotencyrecord ({STORE_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"  # noqa: S608


def advisory_key(text: str) -> int:
    """A signed 64-bit advisory-lock key for a string."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


@contextmanager
def session_advisory_lock(name: str, *, wait_s: float = LOCK_WAIT_S) -> Iterator[None]:
    """Hold a session-level advisory lock outside any transaction; 409 if it stays taken."""
    key = advisory_key(name)
    _acquire(key, wait_s=wait_s)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def _acquire(key: int, *, wait_s: float, then: tuple[str, dict[str, Any]] | None = None) -> Any:
    """Take the lock, waiting up to `wait_s`; with `then` (a select-list column and its named
    parameters), read that column in the same round trip."""
    deadline = time.monotonic() + wait_s
    delay = 0.005
    sql = "SELECT pg_try_advisory_lock(%(lock)s)" + (f", {then[0]}" if then else "")
    params = {"lock": key, **(then[1] if then else {})}
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            if row[0]:
                return row[1] if then else None
            if time.monotonic() > deadline:
                raise in_progress()
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _request_hash(request: Request) -> str:
    try:
        payload: Any = json.loads(request.body or b"null")
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = bytes(request.body or b"")
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


def idempotency_key_from(request: Request) -> str:
    key = request.headers.get(HEADER, "").strip()
    if not key:
        raise ValidationFailed(f"The {HEADER} header is required for this request.", code="idempotency_key_required")
    if len(key) > 255 or not key.isprintable():
        raise ValidationFailed(
            f"The {HEADER} header must be 1 to 255 printable characters.", code="idempotency_key_invalid"
        )
    return key


def idempotent(view_method: V) -> V:
    """Decorate an APIView's `post` so that it honours `Idempotency-Key`."""

    @wraps(view_method)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        recording = Recording.of(request, idempotency_key_from(request))
        lock = recording.lock
        # One round trip takes the lock and reads what an earlier request with the key left.
        stored = _acquire(lock, wait_s=LOCK_WAIT_S, then=recording.read)
        try:
            if stored is not None:
                return replay_response(stored, recording)
            response = view_method(self, request, *args, **kwargs)
            if 200 <= response.status_code < 300 and isinstance(response, Response):
                with connection.cursor() as cursor:
                    cursor.execute(_STORE, recording.row(response.status_code, response.data))
            return response
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock])

    return wrapper  # type: ignore[return-value]


@dataclass
class Recording:
    """An idempotent request whose service records it inside its own transaction.

    The service takes `lock` with `pg_try_advisory_xact_lock` and reads the stored answer
    (`READ_COLUMN`) in the first statement of its transaction, retrying while the lock is taken
    (`LOCK_WAIT_S`, then `in_progress()`); sets `checked` once it has read; and stores its answer
    (`row`, in the order of STORE_COLUMNS) before it commits. An answer found is raised as
    `Replay`, for the view to turn into `replay_response`.
    """

    scope: str
    key: str
    method: str
    path: str
    request_hash: str
    checked: bool = False
    # The request's user when authentication left it to be read (core.authentication.DeferredUser):
    # the service reads `account_column()` in the same first statement and verifies it before
    # anything else.
    deferred_user: DeferredUser | None = None

    @classmethod
    def of(cls, request: Request, key: str) -> Recording:
        user = request.user
        scope = f"user:{user.pk}" if user.is_authenticated else "anonymous"
        deferred = user if isinstance(user, DeferredUser) and not user.verified else None
        return cls(scope, key, request.method or "", request.path[:512], _request_hash(request), False, deferred)

    @property
    def lock(self) -> int:
        return advisory_key(f"idempotency:{self.scope}:{self.key}")

    @property
    def read(self) -> tuple[str, dict[str, Any]]:
        """The stored answer's column (READ_COLUMN) with its parameters."""
        return READ_COLUMN, {"scope": self.scope, "key": self.key}

    def row(self, status: int, data: Any) -> list[Any]:
        """The stored answer's values, in the order of STORE_COLUMNS."""
        body = JSONRenderer().render(data).decode()
        return [self.scope, self.key, self.method, self.path, self.request_hash, status, body, timezone.now()]


# The stored answer as one JSON array (hash, status, body), for a statement's select list; the
# statement passes `scope` and `key` as named parameters.
READ_COLUMN = (
    "(SELECT json_build_array(request_hash, response_status, response_body)"
    " FROM core_idempotencyrecord WHERE scope = %(scope)s AND key = %(key)s)"
)


class Replay(Exception):  # noqa: N818 - an answer, not an error
    """The answer an earlier request with the key stored (hash, status, body)."""

    def __init__(self, stored: list[Any]) -> None:
        super().__init__("stored answer")
        self.stored = stored


def read_answer(recording: Recording) -> list[Any] | None:
    """The answer stored for the Recording's key (hash, status, body), read without its lock:
    inside a transaction that holds it, or after a race on the key was lost."""
    column, params = recording.read
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column}", params)  # noqa: S608 - a constant column; values are parameters
        row = cursor.fetchone()
    return None if row is None else row[0]


def store_answer(recording: Recording, status: int, data: Any) -> None:
    """Store a Recording's answer by itself (inside the caller's transaction, if one is open)."""
    with connection.cursor() as cursor:
        cursor.execute(_STORE, recording.row(status, data))


def in_progress() -> Conflict:
    return Conflict("A request with this Idempotency-Key is still being processed.", code="idempotency_in_progress")


def replay_response(stored: list[Any], recording: Recording) -> HttpResponse:
    """The stored answer again, or 409 when the key was used with another request."""
    stored_hash, status, body = stored
    if stored_hash != recording.request_hash:
        raise Conflict("This Idempotency-Key was used with a different request.", code="idempotency_key_reused")
    replay = HttpResponse(body, status=status, content_type="application/json")
    replay["Idempotent-Replayed"] = "true"
    return replay


def stored_answer(recording: Recording) -> HttpResponse | None:
    """What `idempotent` would have answered before its view ran: for a request that failed
    before its service read the stored answer (a body the view refused), so that it meets the
    replay or the 409 the decorator gives. None when nothing is stored."""
    lock = recording.lock
    stored = _acquire(lock, wait_s=LOCK_WAIT_S, then=recording.read)
    try:
        return None if stored is None else replay_response(stored, recording)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock])


def purge_expired_records() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
