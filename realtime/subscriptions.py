"""Topic groups a connection joins besides its user's group.

- Providers: functions `user_id -> topics` run when a connection opens (the sportsbook registers
  one giving `selection:<id>` for the selections on the user's open slips).
- Server pushes: `user_topics_join(user_id=, topics=)` tells every open connection of the user
  to join (after a bet is placed, say); call it after commit, e.g. through the
  `realtime.tasks.user_topics_join` task.
- Clients may subscribe themselves to topics of the public kinds (REALTIME_PUBLIC_TOPIC_KINDS).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from realtime.protocol import LAYER_TOPICS_JOIN, LAYER_TOPICS_LEAVE, topic_group, user_group

TopicProvider = Callable[[int], Iterable[str]]
_providers: list[TopicProvider] = []


def topic_provider(provider: TopicProvider) -> TopicProvider:
    """Register (decorator); providers run in a database thread at connect."""
    if provider not in _providers:
        _providers.append(provider)
    return provider


def topic_provider_remove(provider: TopicProvider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def has_topic_providers() -> bool:
    return bool(_providers)


def topics_for_user(user_id: int) -> list[str]:
    topics: set[str] = set()
    for provider in _providers:
        for topic in provider(user_id):
            topic_group(topic)  # raises on a malformed topic: a provider bug, not a client's
            topics.add(topic)
    return sorted(topics)


def _push(user_id: int, kind: str, topics: list[str]) -> None:
    for topic in topics:
        topic_group(topic)
    layer = get_channel_layer()
    if layer is not None and topics:
        async_to_sync(layer.group_send)(user_group(user_id), {"type": kind, "topics": topics})


def user_topics_join(*, user_id: int, topics: list[str]) -> None:
    _push(user_id, LAYER_TOPICS_JOIN, topics)


def user_topics_leave(*, user_id: int, topics: list[str]) -> None:
    _push(user_id, LAYER_TOPICS_LEAVE, topics)
