"""Local fake providers that speak each outside service's documented wire format.

The tests serve them with pytest-httpserver or a thread; `manage.py fake_providers` (run by
`make run`) serves every one registered here on its own port, so the demo runs the real
adapters against them. Each entry: name -> (module with `make_app()` returning a WSGI app,
default port).
"""

from __future__ import annotations

from django.conf import settings

FAKES: dict[str, tuple[str, int]] = {
    "closing_prices": ("tests.fakes.closing_prices", settings.FAKE_PORT_BASE + 5),
}
