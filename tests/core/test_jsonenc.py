"""`json_text` writes the values Django's encoder writes, for every type that encoder knows."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext_lazy

from core.jsonenc import json_text
from ledger.models import Account


def test_the_values_are_djangos() -> None:
    value = {
        "slip": 12,
        "odds": Decimal("1.91"),
        "at": datetime(2026, 11, 21, 17, 0, 0, 123456, tzinfo=UTC),
        "naive": datetime(2026, 11, 21, 17, 0, 0),  # noqa: DTZ001 - how a naive one reads, too
        "day": date(2026, 11, 21),
        "clock": time(9, 30, 15, 250000),
        "after": timedelta(minutes=5, seconds=3),
        "id": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "label": gettext_lazy("Wallet"),
        "kind": Account.Kind.WALLET,
        "nested": [{"amount": 19_100, "currency": "NGN"}, None, True, "naïve ✓"],
        7: "an integer key",
    }
    assert json.loads(json_text(value)) == json.loads(DjangoJSONEncoder().encode(value))


def test_what_django_refuses_it_refuses() -> None:
    with pytest.raises(TypeError):
        json_text({"set": {1, 2}})
