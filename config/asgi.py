"""ASGI entry point: HTTP through Django's WSGI handler on a thread pool, WebSocket through Channels.

Django's own ASGI handler runs every synchronous view (all of DRF) in one thread per process,
one request at a time. Our views are synchronous and spend their time waiting on PostgreSQL, so
HTTP goes to the WSGI handler on a pool of WEB_THREADS threads instead (core.wsgi_bridge: one
hand-over between the event loop and a thread each way), each request on a pooled database
connection; the WebSocket consumers stay on the event loop.
"""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_wsgi_app = get_wsgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from core.wsgi_bridge import WSGIBridge  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": WSGIBridge(django_wsgi_app, workers=settings.WEB_THREADS),
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)
