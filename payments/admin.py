"""Each rail registers its own admin; importing the modules here is what loads them."""

import payments.topup.admin  # noqa: F401
import payments.treasury.admin  # noqa: F401
