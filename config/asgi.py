"""ASGI entry point: HTTP through Django's WSGI handler on a thread pool, WebSocket through Channels.

Django's own ASGI handler runs every synchronous view (all of DRF) in one thread per process,
one request at a time. Our views are synchronous and spend their time waiting on PostgreSQL, so
HTTP goes to the WSGI handler on a pool of WEB_THREADS threads instead (a2wsgi), each request on
a pooled database connection; the WebSocket consumers stay on the event loop.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_wsgi_app = get_wsgi_application()

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": WSGIMiddleware(django_wsgi_app, workers=settings.WEB_THREADS),  # type: ignore[arg-type]
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)
