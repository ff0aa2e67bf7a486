"""Payments in the admin: each rail registers its own models."""

import payments.payouts.admin  # noqa: F401
