"""The relay's bookkeeping: claims that several relays share, leases, marking once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from realtime.models import OutboxEvent
from realtime.outbox import _after_commit_hooks, event_emit, new_event_id
from realtime.relay import outbox_claim, outbox_mark_published, outbox_sweep, relay_wake


def rows(user: Any, count: int) -> list[OutboxEvent]:
    return OutboxEvent.objects.bulk_create(
        OutboxEvent(event_id=new_event_id(), type="bet.settled", user_id=user.pk, data={"slip": n})
        for n in range(count)
    )


@pytest.mark.django_db
def test_the_relay_is_woken_after_commit_only(user: Any, django_capture_on_commit_callbacks: Any) -> None:
    assert relay_wake in _after_commit_hooks
    with django_capture_on_commit_callbacks() as callbacks:
        event_emit(type="balance.updated", user_id=user.pk, data={"currency": "NGN"})
        assert OutboxEvent.objects.get().published_at is None
    assert len(callbacks) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_relays_claim_disjoint_rows(user: Any) -> None:
    """Two relays claiming at the same moment: SKIP LOCKED gives each row to exactly one."""
    rows(user, 200)
    barrier = threading.Barrier(4)
    claims: list[list[int]] = []
    errors: list[BaseException] = []

    def relay() -> None:
        try:
            barrier.wait(5)
            for _ in range(10):
                _, events = outbox_claim(limit=10, lease_s=30)
                claims.append([e.seq for e in events])
        except BaseException as exc:  # reported below, with the thread's traceback
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    claimed = [seq for claim in claims for seq in claim]
    assert len(claimed) == len(set(claimed)) == 200
    assert OutboxEvent.objects.filter(claim_id__isnull=True).count() == 0


@pytest.mark.django_db
def test_a_row_is_marked_published_once_and_a_live_lease_is_not_taken(user: Any) -> None:
    rows(user, 3)
    first_claim, events = outbox_claim(limit=10, lease_s=30)
    assert len(events) == 3
    # Leased: another relay finds nothing to take.
    assert outbox_claim(limit=10, lease_s=30)[1] == []
    seqs = [e.seq for e in events]
    assert outbox_mark_published(claim_id=first_claim, seqs=seqs) == 3
    assert outbox_mark_published(claim_id=first_claim, seqs=seqs) == 0
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_an_expired_lease_is_taken_over_and_the_old_claim_cannot_mark(user: Any) -> None:
    rows(user, 2)
    crashed_claim, events = outbox_claim(limit=10, lease_s=30)
    first_claimed_at = OutboxEvent.objects.values_list("claimed_at", flat=True).first()
    OutboxEvent.objects.update(lease_until=timezone.now() - timedelta(hours=1))
    new_claim, retaken = outbox_claim(limit=10, lease_s=30)
    assert [e.seq for e in retaken] == [e.seq for e in events]
    # The crashed relay wakes up late: its claim no longer holds the rows.
    assert outbox_mark_published(claim_id=crashed_claim, seqs=[e.seq for e in events]) == 0
    assert outbox_mark_published(claim_id=new_claim, seqs=[e.seq for e in events]) == 2
    # Resume reasons with the first claim's time, which a take-over keeps.
    assert OutboxEvent.objects.values_list("claimed_at", flat=True).first() == first_claimed_at


@pytest.mark.django_db(transaction=True)
def test_sweeper_retakes_rows_of_a_relay_that_died_mid_cycle(user: Any, redis_db: Any) -> None:
    rows(user, 4)
    outbox_claim(limit=10, lease_s=30)  # ... and the process died before publishing
    assert outbox_sweep() == 0  # the lease still holds
    OutboxEvent.objects.update(lease_until=timezone.now() - timedelta(hours=1))
    assert outbox_sweep() == 4
    assert OutboxEvent.objects.filter(published_at__isnull=True).count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_event_nobody_can_hear_is_settled_not_retried_forever(redis_db: Any) -> None:
    OutboxEvent.objects.create(event_id=new_event_id(), type="round.updated", topic="no colon here", data={})
    assert outbox_sweep() == 1
    assert outbox_sweep() == 0
