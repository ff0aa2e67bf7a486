"""`Idempotency-Key` for every POST that moves money.

Same key and same body replays the first successful response (with `Idempotent-Replayed: true`);
the same key with another body is a 409; concurrent requests with one key run one at a time
(a PostgreSQL advisory lock on the key), so exactly one executes and the others replay it. An
error response is not stored: an error changed nothing, so the client may retry with the key.
Cost: one round trip to lock and read, one to store a success, one to unlock.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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

from core.errors import Conflict, ValidationFailed
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
LOCK_WAIT_S = 15.0

V = TypeVar("V", bound=Callable[..., HttpResponse])

# The IdempotencyRecord of a success; by hand, as this runs after every money-moving POST.
_STORE = """
INSERT INTO core_idempotencyrecord
    (scope, key, method, path, request_hash, response_status, response_body, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
"""


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


def _acquire(key: int, *, wait_s: float, then: tuple[str, list[Any]] | None = None) -> Any:
    """Take the lock, waiting up to `wait_s`; with `then`, run that query in the same round trip."""
    deadline = time.monotonic() + wait_s
    delay = 0.005
    sql = "SELECT pg_try_advisory_lock(%s)" + (f", ({then[0]})" if then else "")
    params = [key, *(then[1] if then else [])]
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            if row[0]:
                return row[1] if then else None
            if time.monotonic() > deadline:
                raise Conflict(
                    "A request with this Idempotency-Key is still being processed.",
                    code="idempotency_in_progress",
                )
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
        key = idempotency_key_from(request)
        scope = f"user:{request.user.pk}" if request.user.is_authenticated else "anonymous"
        request_hash = _request_hash(request)
        lock = advisory_key(f"idempotency:{scope}:{key}")
        # One round trip takes the lock and reads what an earlier request with the key left.
        stored = _acquire(
            lock,
            wait_s=LOCK_WAIT_S,
            then=(
                "SELECT json_build_array(request_hash, response_status, response_body)"
                " FROM core_idempotencyrecord WHERE scope = %s AND key = %s",
                [scope, key],
            ),
        )
        try:
            if stored is not None:
                stored_hash, status, body = stored
                if stored_hash != request_hash:
                    raise Conflict(
                        "This Idempotency-Key was used with a different request.", code="idempotency_key_reused"
                    )
                replay = HttpResponse(body, status=status, content_type="application/json")
                replay["Idempotent-Replayed"] = "true"
                return replay
            response = view_method(self, request, *args, **kwargs)
            if 200 <= response.status_code < 300 and isinstance(response, Response):
                with connection.cursor() as cursor:
                    cursor.execute(
                        _STORE,
                        [
                            scope,
                            key,
                            request.method or "",
                            request.path[:512],
                            request_hash,
                            response.status_code,
                            JSONRenderer().render(response.data).decode(),
                            timezone.now(),
                        ],
                    )
            return response
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [lock])

    return wrapper  # type: ignore[return-value]


def purge_expired_records() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
