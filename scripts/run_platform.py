"""Run the whole platform in the foreground (API + WebSocket, worker, beat, and the local fake
providers when no real ones are configured); Ctrl-C stops every process cleanly."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    metrics_dir = ROOT / "var" / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    os.environ.setdefault("LOG_FORMAT", "console")

    import django

    django.setup()
    from django.conf import settings

    base = f"http://{os.environ.get('WEB_HOST', '127.0.0.1')}:{os.environ.get('WEB_PORT', '8000')}"
    print(
        "\nTote is starting. Ctrl-C stops everything.\n"
        f"  API docs   {base}/api/docs/\n"
        f"  Admin      {base}/admin/   (login {settings.DEMO_OPERATOR_USERNAME} / {settings.DEMO_OPERATOR_PASSWORD})\n"
        f"  Health     {base}/api/health\n"
        f"  Metrics    {base}/metrics\n"
        f"  WebSocket  {base.replace('http', 'ws')}/ws/bets/\n",
        flush=True,
    )
    honcho = str(ROOT / ".venv" / "bin" / "honcho")
    os.execv(honcho, [honcho, "start", "-f", str(ROOT / "Procfile"), "-d", str(ROOT)])  # noqa: S606
    return 0  # pragma: no cover - execv does not return


if __name__ == "__main__":
    sys.exit(main())
