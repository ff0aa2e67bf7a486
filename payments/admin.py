"""Payments in the admin: each rail registers its own models; importing them here loads them."""

import payments.payouts.admin  # noqa: F401
import payments.topup.admin  # noqa: F401
import payments.treasury.admin  # noqa: F401
