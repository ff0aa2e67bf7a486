"""Tote settings: one file, every value from the environment (see .env.example).

Defaults run on a developer machine with PostgreSQL and Redis on 127.0.0.1. Production mode
(`DJANGO_ENV=production`) refuses to start while a setting that is unsafe when unset is missing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env.bool("DEBUG", default=not PRODUCTION)

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105 - refused in production
SECRET_KEY = env.str("SECRET_KEY", default="" if PRODUCTION else _DEV_SECRET_KEY)
CRON_SECRET = env.str("CRON_SECRET", default="")
if PRODUCTION:
    _missing = [name for name, value in (("SECRET_KEY", SECRET_KEY), ("CRON_SECRET", CRON_SECRET)) if not value]
    if _missing:
        raise ImproperlyConfigured(f"production mode needs {', '.join(_missing)} set in the environment")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=["http://127.0.0.1:8000", "http://localhost:8000"])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "django_celery_beat",
    "channels",
    # Ours, lowest layer first.
    "core",
    "users",
    "ledger",
    "betting",
    "settlement",
    "payments",
    "realtime",
]

MIDDLEWARE = [
    "core.logging.CorrelationIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "users.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/tote")}
DATABASES["default"]["ENGINE"] = "django.db.backends.postgresql"
DATABASES["default"].setdefault("OPTIONS", {})
DATABASES["default"]["OPTIONS"]["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT_S", default=5)
# Django's psycopg pool: one pool per process, shared by the threads ASGI runs sync views in.
if env.bool("DATABASE_POOL", default=False):
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=20),
        "timeout": env.int("DATABASE_POOL_TIMEOUT_S", default=10),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="test_tote")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, channels, celery ---------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=200)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="tote"),
    }
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            # redis-py 8 caps an async pool at 100 connections and raises past it: say how many.
            "hosts": [{"address": REDIS_URL, "max_connections": REDIS_MAX_CONNECTIONS}],
            "prefix": env.str("CHANNEL_LAYER_PREFIX", default="tote"),
            "capacity": 1000,
            "expiry": 60,
        },
    }
}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES_NAMES = ["settlement", "payments", "chain", "realtime", "default"]
CELERY_TASK_ROUTES = {
    "settlement.*": {"queue": "settlement"},
    "payments.*": {"queue": "payments"},
    "ledger.tasks.anchor*": {"queue": "chain"},
    "realtime.*": {"queue": "realtime"},
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Internationalisation, static ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if not PRODUCTION and env.bool("FAST_PASSWORD_HASHER", default=False):
    # Tests and benchmarks create thousands of users; PBKDF2 would dominate their time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_RATES": {"signup": env.str("SIGNUP_THROTTLE_RATE", default="30/min")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "SIGNING_KEY": SECRET_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tote API",
    "DESCRIPTION": (
        "Sportsbook, Up/Down pools, live tickets, payments and payouts. Amounts are integers in "
        'the currency\'s minor unit. Errors are `{"error": {"code", "message", "details"}}`. '
        "POSTs that move money take an `Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")  # json | console
LOGGING_CONFIG = None  # core.logging.configure() sets up stdlib logging and structlog together.

# --- Business knobs (documented in .env.example) --------------------------------------------
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
HEALTH_WORKER_PING_TIMEOUT_S = env.float("HEALTH_WORKER_PING_TIMEOUT_S", default=1.0)
HEALTH_BEAT_MAX_AGE_S = env.int("HEALTH_BEAT_MAX_AGE_S", default=120)
OUTBOUND_HTTP_TIMEOUT_S = env.float("OUTBOUND_HTTP_TIMEOUT_S", default=10.0)
DEMO_OPERATOR_USERNAME = env.str("DEMO_OPERATOR_USERNAME", default="operator")
DEMO_OPERATOR_PASSWORD = env.str("DEMO_OPERATOR_PASSWORD", default="operator-demo-password")
SIMULATED_DEPOSITS_ENABLED = env.bool("SIMULATED_DEPOSITS_ENABLED", default=not PRODUCTION)

# Local fake providers (tests/fakes, `manage.py fake_providers`) listen on FAKE_PORT_BASE + n:
# 1 SportsGameOdds, 2 Selcom, 3 Wema, 4 Stripe, 5 closing prices. An adapter with no real API key
# configured points at its fake, so the demo runs the real adapters.
FAKE_PORT_BASE = env.int("FAKE_PORT_BASE", default=9000)


def fake_url(offset: int) -> str:
    return f"http://127.0.0.1:{FAKE_PORT_BASE + offset}"


# --- Capabilities: each section below belongs to one area of the platform -----------------------

# --- Up/Down rounds ---------------------------------------------------------------------------
# RULES.md "Up/Down daily rounds"; every knob documented in .env.example.
ROUNDS_ASSET = env.str("ROUNDS_ASSET", default="QQQ")
ROUNDS_CURRENCY = env.str("ROUNDS_CURRENCY", default="USDC")
FEE_BPS = env.int("FEE_BPS", default=100)
CLOSE_FETCH_DELAY_MIN = env.int("CLOSE_FETCH_DELAY_MIN", default=5)
SETTLE_GRACE_MIN = env.int("SETTLE_GRACE_MIN", default=30)
ROUNDS_MIN_BET = env.int("ROUNDS_MIN_BET", default=1)
ROUNDS_MAX_BET = env.int("ROUNDS_MAX_BET", default=10**12)
ROUNDS_SETTLE_RETRY_S = env.int("ROUNDS_SETTLE_RETRY_S", default=60)
ROUNDS_SETTLE_CHUNK = env.int("ROUNDS_SETTLE_CHUNK", default=5000)
ROUNDS_ORACLE = env.str("ROUNDS_ORACLE", default="http")  # http | chainlink | manual
if ROUNDS_ORACLE not in ("http", "chainlink", "manual"):
    raise ImproperlyConfigured(f"ROUNDS_ORACLE must be http, chainlink or manual, not {ROUNDS_ORACLE!r}")
ROUNDS_PRICES_API_KEY = env.str("ROUNDS_PRICES_API_KEY", default="")
# An empty value (as .env.example has it) means the default too.
ROUNDS_PRICES_BASE_URL = env.str("ROUNDS_PRICES_BASE_URL", default="") or (
    "https://api.polygon.io" if ROUNDS_PRICES_API_KEY else fake_url(5)
)
ROUNDS_PRICES_TIMEOUT_S = env.float("ROUNDS_PRICES_TIMEOUT_S", default=5.0)
ROUNDS_PRICES_RETRIES = env.int("ROUNDS_PRICES_RETRIES", default=2)
ROUNDS_CHAINLINK_RPC_URL = env.str("ROUNDS_CHAINLINK_RPC_URL", default="https://rpc-amoy.polygon.technology/")
ROUNDS_CHAINLINK_FEED_ADDRESS = env.str("ROUNDS_CHAINLINK_FEED_ADDRESS", default="")
ROUNDS_CHAINLINK_HEARTBEAT_S = env.int("ROUNDS_CHAINLINK_HEARTBEAT_S", default=86400)
ROUNDS_CHAINLINK_CLOSE_TOLERANCE_S = env.int("ROUNDS_CHAINLINK_CLOSE_TOLERANCE_S", default=300)
ROUNDS_CHAINLINK_TIMEOUT_S = env.float("ROUNDS_CHAINLINK_TIMEOUT_S", default=5.0)
ROUNDS_CHAINLINK_RETRIES = env.int("ROUNDS_CHAINLINK_RETRIES", default=2)
