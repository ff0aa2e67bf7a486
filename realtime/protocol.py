"""The wire protocol of /ws/bets/: groups, the event envelope, close codes.

Every pushed event is `{"type", "id", "seq", "ts", "data"}` (DESIGN.md "Events"). Other server
frames: `pong`, `resumed`, `subscribed`, `unsubscribed`, `error`. Channel-layer messages between
the relay and the consumers carry a ready envelope, so a consumer only forwards it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

# A client that offers this subprotocol gets it back; `bearer.<jwt>` beside it authenticates.
SUBPROTOCOL = "tote.v1"
BEARER_PREFIX = "bearer."

# Close codes, in the 4000-4999 range applications own (RFC 6455 7.4.2), mirroring HTTP.
CLOSE_UNAUTHENTICATED = 4401  # missing, bad, expired or reused ticket or token
CLOSE_FORBIDDEN = 4403  # valid credentials of an account that may not connect (disabled)
CLOSE_TRY_AGAIN_LATER = 1013  # RFC 6455: Redis, which tickets live in, is unreachable

# Channel-layer message types (consumer handler names are these with "." -> "_").
LAYER_EVENT = "outbox.event"
LAYER_TOPICS_JOIN = "topics.join"
LAYER_TOPICS_LEAVE = "topics.leave"

# `<kind>:<key>`, e.g. round:20261121 or selection:812; a group name may not hold ":".
TOPIC_RE = re.compile(r"^([a-z][a-z0-9_]{0,31}):([A-Za-z0-9_-]{1,64})$")


def user_group(user_id: int) -> str:
    return f"user.{int(user_id)}"


def topic_group(topic: str) -> str:
    """The channel-layer group of a topic; raises ValueError for a malformed topic."""
    match = TOPIC_RE.match(topic)
    if match is None:
        raise ValueError(f"malformed topic {topic!r}")
    return f"topic.{match.group(1)}.{match.group(2)}"


def topic_kind(topic: str) -> str | None:
    match = TOPIC_RE.match(topic)
    return match.group(1) if match else None


def format_ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(*, type: str, event_id: str, seq: int, created_at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": type, "id": event_id, "seq": seq, "ts": format_ts(created_at), "data": data}


def error_frame(code: str, message: str, *, ref: Any = None, details: dict[str, Any] | None = None) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message, "details": details or {}}
    if ref is not None:
        frame["ref"] = ref
    return frame
