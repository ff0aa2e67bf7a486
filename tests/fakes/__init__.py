"""Local fake providers that speak each outside service's documented wire format.

The tests serve them with pytest-httpserver or a thread; `manage.py fake_providers` (run by
`make run`) serves every one registered here on its own port, so the demo runs the real
adapters against them. Each entry: name -> (module with `make_app()` returning a WSGI app,
default port).
"""

from __future__ import annotations

from django.conf import settings

FAKES: dict[str, tuple[str, int]] = {
    "selcom": ("tests.fakes.selcom", settings.FAKE_PORT_BASE + 2),
    "wema": ("tests.fakes.wema", settings.FAKE_PORT_BASE + 3),
    "sportsgameodds": ("tests.fakes.sportsgameodds", settings.FAKE_PORT_BASE + 1),
    "stripe": ("tests.fakes.stripe", settings.FAKE_PORT_BASE + 4),
    "closing_prices": ("tests.fakes.closing_prices", settings.FAKE_PORT_BASE + 5),
}
