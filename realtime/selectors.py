"""Reads of the outbox: what a reconnecting client missed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from realtime.models import OutboxEvent
from realtime.protocol import envelope


@dataclass(frozen=True)
class Replay:
    events: list[dict[str, Any]]
    # False when the client may lack events this replay cannot give (cut at the size bound, or
    # its cursor is older than the window): it should reload its state over REST.
    complete: bool


def events_missed(*, user_id: int, after: int) -> Replay:
    """The user's own events a client whose last seen `seq` is `after` may have missed.

    `seq` is taken at insert but transactions commit in any order, so an event with a lower seq
    can become visible after the client saw a higher one. Hence, besides every event with
    `seq > after`, the replay holds the user's events with `seq <= after` whose publication may
    have finished after the client got `after`: published later than `after` was first claimed
    (a database-clock instant before `after` was sent), or not yet marked. Events that went out
    in the same claim as `after`, to the same user group, went before it in seq order and are
    left out. Events no relay has claimed yet are left out as well: they are published after
    this connection joined its groups, so they arrive live.

    Guarantee: a client that resumes from the last seq it saw gets every event of its own it
    did not receive, within REALTIME_RESUME_WINDOW_S and REALTIME_RESUME_MAX_EVENTS (else
    `complete` is False). It may receive an event it already has; `id` identifies it. Topic
    broadcasts (odds, rounds) are not replayed: they describe current state, which the client
    reloads.
    """
    window_start = timezone.now() - timedelta(seconds=settings.REALTIME_RESUME_WINDOW_S)
    limit = settings.REALTIME_RESUME_MAX_EVENTS
    rows = OutboxEvent.objects.filter(user_id=user_id, claimed_at__isnull=False, created_at__gte=window_start)
    complete = True
    anchor = (
        OutboxEvent.objects.filter(seq=after).values("user_id", "topic", "claim_id", "claimed_at", "created_at").first()
        if after > 0
        else None
    )
    if anchor is not None and anchor["claimed_at"] is not None:
        late = Q(published_at__isnull=True) | Q(published_at__gt=anchor["claimed_at"])
        if anchor["user_id"] == user_id and not anchor["topic"]:
            late &= ~Q(claim_id=anchor["claim_id"])
        rows = rows.filter(Q(seq__gt=after) | (Q(seq__lt=after) & late))
        complete = anchor["created_at"] >= window_start
    elif after > 0:
        complete = False  # a cursor we cannot place: everything in the window, and say so
    found = list(rows.order_by("seq").values_list("seq", "event_id", "type", "data", "created_at")[: limit + 1])
    if len(found) > limit:
        found, complete = found[:limit], False
    events = [
        envelope(type=type_, event_id=event_id, seq=seq, created_at=created_at, data=data)
        for seq, event_id, type_, data, created_at in found
    ]
    return Replay(events=events, complete=complete)
