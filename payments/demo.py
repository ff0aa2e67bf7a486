"""Demo data of the payments app: each rail adds its own."""

from __future__ import annotations

from typing import Any


def load_demo(stdout: Any) -> None:
    from payments.payouts.demo import load_demo as payouts_demo

    payouts_demo(stdout)
