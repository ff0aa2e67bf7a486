"""Outbox events are written in the transaction of the change they report."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from realtime.models import OutboxEvent
from realtime.outbox import event_emit

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_event_commits_with_its_change(user: Any, fund: Any) -> None:
    fund(user, 1_000)
    event = OutboxEvent.objects.get(type="balance.updated", user=user)
    assert event.event_id.startswith("evt_")
    assert event.data["amount"] == 1_000


def test_no_event_for_a_rolled_back_change(user: Any) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        event_emit(type="balance.updated", user_id=user.pk, data={"currency": "NGN"})
        raise Boom
    assert not OutboxEvent.objects.exists()


def test_events_need_an_open_transaction(user: Any) -> None:
    with pytest.raises(RuntimeError, match="inside the transaction"):
        event_emit(type="balance.updated", user_id=user.pk, data={})


def test_unknown_event_types_are_refused(user: Any) -> None:
    with pytest.raises(ValueError, match="unknown event type"), transaction.atomic():
        event_emit(type="bet.exploded", user_id=user.pk, data={})
