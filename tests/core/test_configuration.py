"""`.env.example` documents the defaults: copying it to `.env` must change no setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

DUMP = """
import json, sys
sys.path.insert(0, ".")
import django
django.setup()
from django.conf import settings
values = {}
for name in dir(settings):
    if name.isupper():
        value = getattr(settings, name)
        try:
            json.dumps(value)
        except TypeError:
            value = repr(value)
        values[name] = value
print(json.dumps(values, sort_keys=True, default=str))
"""


def _settings(extra: dict[str, str], *, drop: set[str]) -> dict[str, object]:
    # Outside pytest (no PYTEST_VERSION), as `make run` reads them; without the developer's own values.
    env = {k: v for k, v in os.environ.items() if k not in drop and k != "PYTEST_VERSION"}
    env |= extra | {"DJANGO_SETTINGS_MODULE": "config.settings", "ENV_FILE": os.devnull}
    result = subprocess.run([sys.executable, "-c", DUMP], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    values: dict[str, object] = json.loads(result.stdout)
    return values


def _example_values() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


def test_env_example_matches_the_defaults() -> None:
    example = _example_values()
    assert len(example) > 40  # the file documents the settings, not a handful
    defaults = _settings({}, drop=set(example))
    with_example = _settings(example, drop=set(example))
    differing = {
        k: (defaults.get(k), with_example.get(k))
        for k in defaults.keys() | with_example.keys()
        if defaults.get(k) != with_example.get(k)
    }
    assert differing == {}
