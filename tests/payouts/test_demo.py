from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from payments.models import Payee, Payout, PayoutSchedule

pytestmark = pytest.mark.django_db


def test_the_demo_loads_once(redis_db: Any) -> None:
    call_command("load_demo", stdout=StringIO())
    counts = (Payout.objects.count(), Payee.objects.count(), PayoutSchedule.objects.count())
    call_command("load_demo", stdout=StringIO())
    assert counts == (3, 3, 1)
    assert (Payout.objects.count(), Payee.objects.count(), PayoutSchedule.objects.count()) == counts
    assert set(Payout.objects.values_list("status", flat=True)) == {"queued"}
