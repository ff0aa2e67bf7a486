"""Stop within seconds, saying which service is down and how to start it.

Run before anything that needs PostgreSQL and Redis (`make run`, `make test`). With --create-db
it also creates the configured database when it is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
START_REDIS = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def _env() -> tuple[str, str]:
    import environ

    env = environ.Env()
    environ.Env.read_env(ROOT / ".env", overwrite=False)
    return (
        env.str("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/tote"),
        env.str("REDIS_URL", default="redis://127.0.0.1:6379/0"),
    )


def check_postgres(url: str, create: bool) -> str | None:
    import psycopg
    from psycopg import sql

    parsed = urlparse(url)
    name = parsed.path.lstrip("/") or "tote"
    admin = parsed._replace(path="/postgres").geturl()
    try:
        with psycopg.connect(admin, connect_timeout=3, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists and create:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"created database {name}")
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (
            f"PostgreSQL is not reachable at {parsed.hostname}:{parsed.port or 5432} ({first}).\n"
            f"  Start it with: {START_POSTGRES}"
        )
    return None


def check_redis(url: str) -> str | None:
    import redis

    parsed = urlparse(url)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at {parsed.hostname}:{parsed.port or 6379} ({exc}).\n  Start it with: {START_REDIS}"
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--create-db", action="store_true")
    args = parser.parse_args()
    database_url, redis_url = _env()
    problems = [p for p in (check_postgres(database_url, args.create_db), check_redis(redis_url)) if p]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.exit(main())
