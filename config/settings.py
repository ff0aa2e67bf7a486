"""Tote settings: one file, every value from the environment (see .env.example).

Defaults run on a developer machine with PostgreSQL and Redis on 127.0.0.1. Production mode
(`DJANGO_ENV=production`) refuses to start while a setting that is unsafe when unset is missing.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# ENV_FILE names another file than .env (the configuration test points it at an empty one).
environ.Env.read_env(os.environ.get("ENV_FILE", str(BASE_DIR / ".env")), overwrite=False)

# pytest sets PYTEST_VERSION before anything is imported: the suite then gets its own Redis
# database (never the demo's), cheap password hashing and commits that skip the WAL flush.
TESTING = "PYTEST_VERSION" in os.environ

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env.bool("DEBUG", default=not PRODUCTION)

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"  # noqa: S105 - refused in production
SECRET_KEY = env.str("SECRET_KEY", default="") or ("" if PRODUCTION else _DEV_SECRET_KEY)
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
# Bind parameters on the server, so psycopg prepares the statements a connection repeats (the
# ledger's one-statement post among them) and PostgreSQL stops planning them on every call.
DATABASES["default"]["OPTIONS"]["server_side_binding"] = env.bool("DATABASE_SERVER_SIDE_BINDING", default=True)
# psycopg prepares a statement after it ran this many times on a connection (Django turns it
# off unless asked). Behind a transaction-pooling PgBouncer set DATABASE_PREPARE_THRESHOLD=0.
_prepare_threshold = env.int("DATABASE_PREPARE_THRESHOLD", default=5)
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = _prepare_threshold or None
if not env.bool("DATABASE_SYNCHRONOUS_COMMIT", default=not TESTING):
    # Tests only: commits stop waiting for the WAL flush. Never in production.
    DATABASES["default"]["OPTIONS"]["options"] = "-c synchronous_commit=off"
# Django's psycopg pool: one pool per process, shared by the threads ASGI runs sync views in.
# uvicorn runs sync views in a thread each; without a pool every thread would keep its own
# connection and 32 clients could exhaust PostgreSQL's max_connections.
if env.bool("DATABASE_POOL", default=not TESTING):
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=24),
        "timeout": env.int("DATABASE_POOL_TIMEOUT_S", default=10),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="test_tote")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, channels, celery ---------------------------------------------------------
REDIS_URL = (
    env.str("TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")
    if TESTING
    else env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
)
REDIS_MAX_CONNECTIONS = env.int("REDIS_MAX_CONNECTIONS", default=200)

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="tote"),
    }
}

CHANNEL_LAYERS: dict[str, Any] = {
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

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL
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
if not PRODUCTION and env.bool("FAST_PASSWORD_HASHER", default=TESTING):
    # Tests and benchmarks create thousands of users; PBKDF2 would dominate their time.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.JWTAuthentication",
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
    "ENUM_NAME_OVERRIDES": {"CurrencyEnum": "ledger.currencies.CURRENCY_CHOICES"},
}

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="WARNING" if TESTING else "INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")  # json | console
LOGGING_CONFIG = None  # core.logging.configure() sets up stdlib logging and structlog together.

# --- Business knobs (documented in .env.example) --------------------------------------------
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
HEALTH_WORKER_PING_TIMEOUT_S = env.float("HEALTH_WORKER_PING_TIMEOUT_S", default=1.0)
HEALTH_BEAT_MAX_AGE_S = env.int("HEALTH_BEAT_MAX_AGE_S", default=120)
OUTBOUND_HTTP_TIMEOUT_S = env.float("OUTBOUND_HTTP_TIMEOUT_S", default=10.0)
# Threads per web process serving HTTP (config/asgi.py); keep DATABASE_POOL_MAX at least this.
WEB_THREADS = env.int("WEB_THREADS", default=16)
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

# --- On-chain audit ledger (ledger/chain) ----------------------------------------------------
# Big wins are anchored on a public chain by BetLedger (contracts/). Like every adapter, with no
# real key configured it points at its local stand-in: an anvil node (`make run` starts one on
# LEDGER_ANVIL_PORT and deploys the contract). With a key, the default network is Polygon Amoy.
LEDGER_PRIVATE_KEY = env.str("LEDGER_PRIVATE_KEY", default="")  # the recorder's key; environment only
LEDGER_ANVIL_PORT = env.int("LEDGER_ANVIL_PORT", default=FAKE_PORT_BASE + 45)
LEDGER_ANVIL_STATE_DIR = Path(env.str("LEDGER_ANVIL_STATE_DIR", default=str(BASE_DIR / "var" / "anvil")))
_LEDGER_NETWORKS = {
    "amoy": (80002, "https://rpc-amoy.polygon.technology/"),
    "polygon": (137, "https://polygon-rpc.com/"),
    "anvil": (31337, f"http://127.0.0.1:{LEDGER_ANVIL_PORT}"),
}
# Empty counts as unset for these three, so a copied .env.example keeps the defaults.
LEDGER_NETWORK = env.str("LEDGER_NETWORK", default="") or ("amoy" if LEDGER_PRIVATE_KEY or PRODUCTION else "anvil")
if LEDGER_NETWORK not in _LEDGER_NETWORKS and not (
    env.str("POLYGON_RPC_URL", default="") and env.str("LEDGER_CHAIN_ID", default="")
):
    raise ImproperlyConfigured(
        f"LEDGER_NETWORK={LEDGER_NETWORK!r}: name one of {sorted(_LEDGER_NETWORKS)} or set POLYGON_RPC_URL and LEDGER_CHAIN_ID"
    )
_ledger_chain_id, _ledger_rpc = _LEDGER_NETWORKS.get(LEDGER_NETWORK, (0, ""))
POLYGON_RPC_URL = env.str("POLYGON_RPC_URL", default="") or _ledger_rpc
LEDGER_CHAIN_ID = int(env.str("LEDGER_CHAIN_ID", default="") or _ledger_chain_id)
LEDGER_CONTRACT_ADDRESS = env.str("LEDGER_CONTRACT_ADDRESS", default="")  # unset: the last deployment on this chain
LEDGER_RPC_TIMEOUT_S = env.float("LEDGER_RPC_TIMEOUT_S", default=10.0)
LEDGER_CONFIRMATIONS = env.int("LEDGER_CONFIRMATIONS", default=1)
LEDGER_BATCH_SIZE = env.int("LEDGER_BATCH_SIZE", default=10)
LEDGER_ANCHOR_INTERVAL_S = env.int("LEDGER_ANCHOR_INTERVAL_S", default=300)
LEDGER_CONFIRM_INTERVAL_S = env.int("LEDGER_CONFIRM_INTERVAL_S", default=30)
LEDGER_RECEIPT_WAIT_S = env.float("LEDGER_RECEIPT_WAIT_S", default=20.0)  # per run; the rest is left to the sweep
LEDGER_STUCK_AFTER_S = env.int("LEDGER_STUCK_AFTER_S", default=180)  # unmined this long: replace with a higher fee
LEDGER_FEE_BUMP_PCT = env.int("LEDGER_FEE_BUMP_PCT", default=25)  # nodes want at least +10% to replace
LEDGER_GAS_LIMIT = env.int("LEDGER_GAS_LIMIT", default=200_000)
LEDGER_MIN_PRIORITY_FEE_WEI = env.int("LEDGER_MIN_PRIORITY_FEE_WEI", default=30 * 10**9)  # Polygon's floor
LEDGER_MAX_FEE_WEI = env.int("LEDGER_MAX_FEE_WEI", default=1000 * 10**9)  # never bid above this per gas
LEDGER_MAX_ATTEMPTS = env.int("LEDGER_MAX_ATTEMPTS", default=12)
LEDGER_RETRY_BASE_S = env.int("LEDGER_RETRY_BASE_S", default=30)
LEDGER_RETRY_MAX_S = env.int("LEDGER_RETRY_MAX_S", default=3600)
# Which settled slips qualify: paid amount at or above the threshold, in the currency's minor unit.
BIG_WIN_THRESHOLD = env.int("BIG_WIN_THRESHOLD", default=100_000_000)  # NGN 1,000,000.00
BIG_WIN_CURRENCY = env.str("BIG_WIN_CURRENCY", default="NGN")
# Dotted path of a callable(limit=int) yielding (subject_id, win_amount, currency) of slips to anchor.
BIG_WIN_CANDIDATE_SOURCE = env.str("BIG_WIN_CANDIDATE_SOURCE", default="settlement.selectors.settled_big_wins")

# --- Payments in: airtime top-up (Selcom), treasury (Wema virtual accounts) ---------------------
# With no real API key set (and outside production), each adapter talks to its local fake
# (tests/fakes/selcom.py, tests/fakes/wema.py) with the demo credentials below, which the fakes
# also read. Webhook secrets have no default in production: the endpoint refuses everything.
_SELCOM_FAKE = not PRODUCTION and not env.str("SELCOM_API_KEY", default="")
SELCOM_BASE_URL = env.str("SELCOM_BASE_URL", default=fake_url(2) if _SELCOM_FAKE else "https://apigw.selcommobile.com")
SELCOM_API_KEY = env.str("SELCOM_API_KEY", default="") or ("tote-fake-selcom-key" if _SELCOM_FAKE else "")
SELCOM_API_SECRET = env.str("SELCOM_API_SECRET", default="") or ("tote-fake-selcom-secret" if _SELCOM_FAKE else "")
SELCOM_VENDOR = env.str("SELCOM_VENDOR", default="TOTE")
SELCOM_PIN = env.str("SELCOM_PIN", default="0000" if _SELCOM_FAKE else "")
SELCOM_CALLBACK_SECRET = env.str("SELCOM_CALLBACK_SECRET", default="" if PRODUCTION else "tote-fake-selcom-callback")
SELCOM_AIRTIME_UTILITY_CODE = env.str("SELCOM_AIRTIME_UTILITY_CODE", default="TOP")
SELCOM_DATA_UTILITY_CODE = env.str("SELCOM_DATA_UTILITY_CODE", default="TOPDATA")  # unconfirmed: ask Selcom
SELCOM_TIMEOUT_S = env.float("SELCOM_TIMEOUT_S", default=15.0)
SELCOM_QUERY_INTERVAL_S = env.int("SELCOM_QUERY_INTERVAL_S", default=180)
SELCOM_SLA_S = env.int("SELCOM_SLA_S", default=300)
TOPUP_MIN_AMOUNT = env.int("TOPUP_MIN_AMOUNT", default=5_000)  # NGN 50.00, in kobo
TOPUP_MAX_AMOUNT = env.int("TOPUP_MAX_AMOUNT", default=5_000_000)  # NGN 50,000.00
TOPUP_DAILY_LIMIT = env.int("TOPUP_DAILY_LIMIT", default=10_000_000)  # per user, rolling 24 h
TOPUP_SEND_GRACE_S = env.int("TOPUP_SEND_GRACE_S", default=60)  # a held or sending top-up older is stuck

_WEMA_FAKE = not PRODUCTION and not env.str("WEMA_API_KEY", default="")
WEMA_BASE_URL = env.str("WEMA_BASE_URL", default=fake_url(3) if _WEMA_FAKE else "https://apis.wemabank.com")
WEMA_SUBSCRIPTION_KEY = env.str("WEMA_SUBSCRIPTION_KEY", default="") or ("tote-fake-wema-sub" if _WEMA_FAKE else "")
WEMA_API_KEY = env.str("WEMA_API_KEY", default="") or ("tote-fake-wema-key" if _WEMA_FAKE else "")
WEMA_WEBHOOK_SECRET = env.str("WEMA_WEBHOOK_SECRET", default="" if PRODUCTION else "tote-fake-wema-webhook")
WEMA_TIMEOUT_S = env.float("WEMA_TIMEOUT_S", default=15.0)
TREASURY_PROVIDER = env.str("TREASURY_PROVIDER", default="wema")  # wema | paystack
PAYSTACK_BASE_URL = env.str("PAYSTACK_BASE_URL", default="https://api.paystack.co")
PAYSTACK_SECRET_KEY = env.str("PAYSTACK_SECRET_KEY", default="")
# Fernet keys for BVNs at rest, comma-separated: the first encrypts, every one decrypts (rotation).
# Unset: one key derived from SECRET_KEY (HKDF), so changing SECRET_KEY then needs this set.
BVN_ENCRYPTION_KEY = env.list("BVN_ENCRYPTION_KEY", default=[])

# --- Realtime: outbox relay, /ws/bets/, live tickets ------------------------------------------
# Tickets for /ws/bets/: single use, kept in Redis this long (a URL may carry one, never a token).
REALTIME_TICKET_TTL_S = env.int("REALTIME_TICKET_TTL_S", default=30)
REALTIME_KEY_PREFIX = env.str("REALTIME_KEY_PREFIX", default=env.str("CHANNEL_LAYER_PREFIX", default="tote"))
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["realtime_ticket"] = env.str("REALTIME_TICKET_THROTTLE_RATE", default="60/min")
# Relay: woken in-process on commit; swept by beat for what a crashed process left behind.
REALTIME_RELAY_ON_COMMIT = env.bool("REALTIME_RELAY_ON_COMMIT", default=True)
REALTIME_RELAY_BATCH = env.int("REALTIME_RELAY_BATCH", default=1000)
# Concurrent group_sends per relay; stays well under REDIS_MAX_CONNECTIONS (redis-py 8 raises past it).
REALTIME_RELAY_CONCURRENCY = env.int("REALTIME_RELAY_CONCURRENCY", default=64)
REALTIME_RELAY_LEASE_S = env.int("REALTIME_RELAY_LEASE_S", default=30)
REALTIME_SWEEP_INTERVAL_S = env.int("REALTIME_SWEEP_INTERVAL_S", default=5)
# Resume: a reconnecting client gets at most this many of its events, from at most this far back.
REALTIME_RESUME_WINDOW_S = env.int("REALTIME_RESUME_WINDOW_S", default=3600)
REALTIME_RESUME_MAX_EVENTS = env.int("REALTIME_RESUME_MAX_EVENTS", default=500)
# Live events wait this long for a fresh connection's first message (its resume), so missed
# events arrive before live ones.
REALTIME_HOLD_LIVE_MS = env.int("REALTIME_HOLD_LIVE_MS", default=1000)
# Topics a client may subscribe to itself (public data); others are joined by the server only.
REALTIME_PUBLIC_TOPIC_KINDS = env.list("REALTIME_PUBLIC_TOPIC_KINDS", default=["round", "selection"])
REALTIME_MAX_TOPICS = env.int("REALTIME_MAX_TOPICS", default=100)
# The channel layer's backend. channels-redis' core layer hands a process its messages one at a
# time, four Redis round trips apiece: in bench/realtime.py 1,000 clients on one server process
# waited 10-16 s for 1,000 events. The pub/sub layer streams them to each process. It keeps
# nothing for a process that is not listening; the outbox and resume cover that.
CHANNEL_LAYER_BACKEND = env.str("CHANNEL_LAYER_BACKEND", default="pubsub")  # pubsub | core
if CHANNEL_LAYER_BACKEND == "pubsub":
    CHANNEL_LAYERS["default"]["BACKEND"] = "channels_redis.pubsub.RedisPubSubChannelLayer"
# redis-py 8 reads with a 5 s socket timeout by default; the core layer blocks 5 s in BZPOPMIN
# while a process's consumers are idle, so the read times out and they all die after 5 quiet
# seconds. Reads must outlast the blocking pop.
REALTIME_CHANNEL_SOCKET_TIMEOUT_S = env.float("REALTIME_CHANNEL_SOCKET_TIMEOUT_S", default=15.0)
CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0].setdefault("socket_timeout", REALTIME_CHANNEL_SOCKET_TIMEOUT_S)

# --- Sportsbook: catalogue, odds feed and bet placement --------------------------------------
# SportsGameOdds v2. With no API key the adapter talks to the local fake (FAKE_PORT_BASE + 1).
SPORTSGAMEODDS_API_KEY = env.str("SPORTSGAMEODDS_API_KEY", default="")
SPORTSGAMEODDS_BASE_URL = env.str("SPORTSGAMEODDS_BASE_URL", default="https://api.sportsgameodds.com/v2")
SPORTSGAMEODDS_SYNC_INTERVAL_S = env.int("SPORTSGAMEODDS_SYNC_INTERVAL_S", default=30)
SPORTSGAMEODDS_LEAGUES = env.list("SPORTSGAMEODDS_LEAGUES", default=[])  # empty: every league the key sees
SPORTSGAMEODDS_LOOKBACK_HOURS = env.int("SPORTSGAMEODDS_LOOKBACK_HOURS", default=24)
SPORTSGAMEODDS_LOOKAHEAD_HOURS = env.int("SPORTSGAMEODDS_LOOKAHEAD_HOURS", default=48)
SPORTSGAMEODDS_PAGE_LIMIT = env.int("SPORTSGAMEODDS_PAGE_LIMIT", default=100)
SPORTSGAMEODDS_TIMEOUT_S = env.float("SPORTSGAMEODDS_TIMEOUT_S", default=10.0)
SPORTSGAMEODDS_RETRIES = env.int("SPORTSGAMEODDS_RETRIES", default=3)
SPORTSGAMEODDS_BACKOFF_S = env.float("SPORTSGAMEODDS_BACKOFF_S", default=0.5)
# The fake's clock: games are laid out from this seed, so a frozen time gives the same slate.
FAKE_SPORTSGAMEODDS_SEED = env.int("FAKE_SPORTSGAMEODDS_SEED", default=7)

# A bet on an event in play waits this long, then is re-validated and accepted or rejected.
LIVE_BET_DELAY_S = env.float("LIVE_BET_DELAY_S", default=5.0)
LIVE_BET_SWEEP_S = env.int("LIVE_BET_SWEEP_S", default=10)
# Limits per currency, in minor units ("NGN=1000;USD=10"). A currency missing from a limit has
# no such limit, except the stake minimum (1 unit).
BET_STAKE_MIN = env.dict(
    "BET_STAKE_MIN", cast={"value": int}, default={"NGN": 1_000, "TZS": 10_000, "USD": 10, "USDC": 100_000}
)
BET_STAKE_MAX = env.dict(
    "BET_STAKE_MAX",
    cast={"value": int},
    default={"NGN": 100_000_000, "TZS": 500_000_000, "USD": 1_000_000, "USDC": 10_000_000_000},
)
BET_MAX_PAYOUT = env.dict(
    "BET_MAX_PAYOUT",
    cast={"value": int},
    default={"NGN": 5_000_000_000, "TZS": 25_000_000_000, "USD": 10_000_000, "USDC": 100_000_000_000},
)
BET_LIABILITY_CAP = env.dict(
    "BET_LIABILITY_CAP",
    cast={"value": int},
    default={"NGN": 20_000_000_000, "TZS": 100_000_000_000, "USD": 50_000_000, "USDC": 500_000_000_000},
)
BET_DAILY_STAKE_LIMIT = env.dict(
    "BET_DAILY_STAKE_LIMIT",
    cast={"value": int},
    default={"NGN": 500_000_000, "TZS": 2_500_000_000, "USD": 5_000_000, "USDC": 50_000_000_000},
)
BET_MAX_LEGS = env.int("BET_MAX_LEGS", default=15)

# --- Payouts (Stripe) ---------------------------------------------------------------------------
# Stripe: with no key (or a test key) and no STRIPE_API_BASE the adapter talks to the local fake
# (fake_url(4)); a live key talks to api.stripe.com. Production never falls back to the fake.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="")
STRIPE_TIMEOUT_S = env.float("STRIPE_TIMEOUT_S", default=10.0)
STRIPE_PROXY = env.str("STRIPE_PROXY", default="")  # Stripe calls ignore HTTP(S)_PROXY; set this instead
# Unset in production: the webhook endpoint answers 503 rather than trusting a known secret.
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="" if PRODUCTION else "whsec_tote_local_fake")
STRIPE_WEBHOOK_TOLERANCE_S = env.int("STRIPE_WEBHOOK_TOLERANCE_S", default=300)

PAYOUT_CURRENCIES = env.list("PAYOUT_CURRENCIES", default=["USD"])
# Amounts below in the currency's major unit (25 = USD 25.00).
PAYOUT_MIN_THRESHOLD = env.str("PAYOUT_MIN_THRESHOLD", default="25")
PAYOUT_LIMIT_PER_PAYOUT = env.str("PAYOUT_LIMIT_PER_PAYOUT", default="5000")
PAYOUT_LIMIT_PER_DAY = env.str("PAYOUT_LIMIT_PER_DAY", default="10000")
PAYOUT_LIMIT_PER_MONTH = env.str("PAYOUT_LIMIT_PER_MONTH", default="50000")
PAYOUT_APPROVAL_THRESHOLD = env.str("PAYOUT_APPROVAL_THRESHOLD", default="1000")
PAYOUT_BATCH_SIZE = env.int("PAYOUT_BATCH_SIZE", default=10)
PAYOUT_MAX_CONCURRENCY = env.int("PAYOUT_MAX_CONCURRENCY", default=5)
PAYOUT_MAX_RETRIES = env.int("PAYOUT_MAX_RETRIES", default=3)
PAYOUT_RETRY_DELAY_S = env.int("PAYOUT_RETRY_DELAY_S", default=30)
PAYOUT_BREAKER_FAILURES = env.int("PAYOUT_BREAKER_FAILURES", default=5)
PAYOUT_BREAKER_COOLDOWN_S = env.int("PAYOUT_BREAKER_COOLDOWN_S", default=60)
PAYOUT_RUN_TIME_LIMIT_S = env.int("PAYOUT_RUN_TIME_LIMIT_S", default=1800)
PAYOUT_SCHEDULE_GRACE_MIN = env.int("PAYOUT_SCHEDULE_GRACE_MIN", default=180)
PAYOUT_MONITOR_WINDOW_H = env.int("PAYOUT_MONITOR_WINDOW_H", default=24)
PAYOUT_ALERT_EMAILS = env.list("PAYOUT_ALERT_EMAILS", default=[])
PAYOUT_ALERT_WEBHOOK_URLS = env.list("PAYOUT_ALERT_WEBHOOK_URLS", default=[])
PAYOUT_ALERT_WEBHOOK_SECRET = env.str("PAYOUT_ALERT_WEBHOOK_SECRET", default="")
PAYOUT_ALERT_FROM_EMAIL = env.str("PAYOUT_ALERT_FROM_EMAIL", default="payouts@tote.local")
# Alert and run-summary e-mails; the console backend prints them (tests use locmem).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

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

# --- Cashout: offers, partial and auto cashout (realtime/cashout) ------------------------------
# RULES.md "Cashout": the house's margin on an offer, and how long an offer may be accepted.
CASHOUT_MARGIN_BPS = env.int("CASHOUT_MARGIN_BPS", default=500)
CASHOUT_OFFER_TTL_S = env.int("CASHOUT_OFFER_TTL_S", default=30)
# Beat: every armed auto-cashout target re-priced (safety net for a lost odds-change task, and
# the way a leg that has just won reaches its slip's target); lapsed offers marked expired.
CASHOUT_AUTO_SWEEP_S = env.int("CASHOUT_AUTO_SWEEP_S", default=30)
CASHOUT_EXPIRE_SWEEP_S = env.int("CASHOUT_EXPIRE_SWEEP_S", default=60)

# --- Settlement: grading, bulk settlement, triggers and health ---------------------------------
# The beat task `sync-and-settle` pulls results from the feed, then settles every event due.
SETTLEMENT_INTERVAL_MIN = env.int("SETTLEMENT_INTERVAL_MIN", default=5)
# RULES.md: a postponed or abandoned event is void unless completed this long after its original
# start; a result may be corrected (and slips resettled) this long after its first settlement.
VOID_AFTER_HOURS = env.int("VOID_AFTER_HOURS", default=48)
RESETTLE_WINDOW_HOURS = env.int("RESETTLE_WINDOW_HOURS", default=24)
# Slips settled per database transaction (each chunk takes the event's advisory lock again).
SETTLEMENT_CHUNK_SIZE = env.int("SETTLEMENT_CHUNK_SIZE", default=2000)
# Events one run settles at once, each in a thread with its own database connection (on two
# cores, 3 settled 120,000 slips fastest: 7,100/s with 2, 7,450-7,900 with 3, 7,550 with 4).
SETTLEMENT_THREADS = env.int("SETTLEMENT_THREADS", default=3)
# POST /api/settlement/webhook: HMAC-SHA256 over "<timestamp>.<raw body>", timestamps within this
# many seconds either way. Empty counts as unset (a copied .env.example keeps the development
# secret); production has none unless set, and the endpoint then refuses everything.
SETTLEMENT_WEBHOOK_SECRET = env.str("SETTLEMENT_WEBHOOK_SECRET", default="") or (
    "" if PRODUCTION else "tote-dev-settlement-webhook"
)
SETTLEMENT_WEBHOOK_TOLERANCE_S = env.int("SETTLEMENT_WEBHOOK_TOLERANCE_S", default=300)
# A failed run is tried again after each of these delays, then left FAILED.
SETTLEMENT_RETRY_DELAYS_S = env.list("SETTLEMENT_RETRY_DELAYS_S", cast=int, default=[2, 4, 8])
# A RUNNING run that has shown no progress this long died with its process: marked failed.
SETTLEMENT_RUN_STALE_S = env.int("SETTLEMENT_RUN_STALE_S", default=600)
# Runs the health check's failure rate looks back over.
SETTLEMENT_HEALTH_RECENT_RUNS = env.int("SETTLEMENT_HEALTH_RECENT_RUNS", default=20)
