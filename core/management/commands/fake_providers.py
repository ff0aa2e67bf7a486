"""Serve every local fake provider (tests/fakes) for the demo, each on its own port."""

from __future__ import annotations

import importlib
import threading
from typing import Any

from django.core.management.base import BaseCommand
from werkzeug.serving import make_server


class Command(BaseCommand):
    help = "Serve the local fake providers (the demo's stand-ins for SportsGameOdds, Selcom, Wema, Stripe)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, **options: Any) -> None:
        from tests.fakes import FAKES

        servers = []
        for name, (module_path, port) in sorted(FAKES.items()):
            app = importlib.import_module(module_path).make_app()
            server = make_server(options["host"], port, app, threaded=True)
            threading.Thread(target=server.serve_forever, name=f"fake-{name}", daemon=True).start()
            servers.append(server)
            self.stdout.write(f"fake {name} on http://{options['host']}:{port}")
        if not servers:
            self.stdout.write("no fake providers registered")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            for server in servers:
                server.shutdown()
