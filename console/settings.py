"""Settings read from the environment.

With nothing set, the console runs on the embedded default: SQLite, a filesystem Celery broker
and a SQLite channel layer, all under CONSOLE_DATA_DIR, so no server has to be installed.
Setting DATABASE_URL and REDIS_URL switches to PostgreSQL and Redis.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

# Lets admin and viewset classes be subscripted for the type checker.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_secret(name: str) -> str | None:
    """A secret from NAME or from the file named by NAME_FILE (fails loudly if unreadable)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc}") from exc
    return os.environ.get(name)


DEBUG = _env_bool("DEBUG", False)
DATA_DIR = Path(os.environ.get("CONSOLE_DATA_DIR", BASE_DIR / "var")).resolve()

_DEV_SECRET = "insecure-embedded-default-key-do-not-use-in-production"  # noqa: S105
# Production: neither DEBUG nor `make run`'s embedded default.
PRODUCTION = not (DEBUG or _env_bool("CONSOLE_EMBEDDED", False))
SECRET_KEY = _env_secret("SECRET_KEY") or ""
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set outside DEBUG.")
    SECRET_KEY = _DEV_SECRET
elif PRODUCTION and (SECRET_KEY == _DEV_SECRET or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    # Django's own bar for a key (check --deploy, W009); a known default signs anyone's session.
    raise ImproperlyConfigured(
        "SECRET_KEY is a published default or too weak (under 50 characters or 5 distinct): "
        "generate one with python3 -c 'import secrets; print(secrets.token_urlsafe(50))'."
    )

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_filters",
    # Swagger UI and ReDoc served from the installed package: no CDN at run time.
    "drf_spectacular_sidecar",
    "channels",
    "console",
    "jobs",
    "models_registry",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "console.signin_limit.SigninLimitMiddleware",
    "console.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "console.errors.ErrorShapeMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'console.sqlite3'}"),
        conn_max_age=0,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and predictor share the file: wait for the writer instead of failing.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A process that dies or hangs inside a transaction (a worker frozen by a VM pause, a
    # debugger left open) would otherwise hold its row locks forever and stall every cancel,
    # claim and reaper pass behind it; PostgreSQL ends such a session after this long.
    _idle_s = int(os.environ.get("PG_IDLE_IN_TRANSACTION_TIMEOUT_S", "600"))
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c idle_in_transaction_session_timeout={_idle_s * 1000}"
    )
    # Under Django's ASGI handler (WEB_HANDLER=asgi) each request ran in a thread of its own,
    # so persistent connections, kept per thread, never served a second request: every call
    # opened a connection and PostgreSQL forked a backend for it, on the cores the burst needs
    # (docs/benchmarks.md, the API's cost). With DB_POOL_SIZE set (runconsole and the compose
    # file set it for the web only), requests borrow from a pool of that many connections,
    # checked before each loan so that a restarted database costs no request. Workers keep one
    # connection a process: a pool must not cross their pool's fork.
    # Which process a connection serves, in pg_stat_activity (runconsole names each).
    DATABASES["default"]["OPTIONS"]["application_name"] = os.environ.get(
        "DB_APPLICATION_NAME", "automl-console"
    )[:63]
    _pool_size = int(os.environ.get("DB_POOL_SIZE", "0") or 0)
    if _pool_size > 0:
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": 1,
            "max_size": _pool_size,
            # Requests over the pool's size wait for a connection rather than fail at once.
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT_S", "30")),
            "max_idle": 120.0,
        }
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# How the web process runs Django's views (console/asgi.py): "wsgi", its WSGI handler on
# WEB_THREADS threads (as many as runconsole's pool of database connections, so that no
# request waits for one), or "asgi", Django's own ASGI handler (measured slower).
WEB_HANDLER = os.environ.get("WEB_HANDLER", "wsgi")
if WEB_HANDLER not in ("wsgi", "asgi"):
    raise ImproperlyConfigured("WEB_HANDLER must be 'wsgi' or 'asgi'.")
WEB_THREADS = int(os.environ.get("WEB_THREADS", "8"))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if _env_bool("FAST_PASSWORD_HASHER", False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
# `make dev-frontend`: the shell loads the app from Vite's dev server (modules served as they
# are edited, reloaded on change) instead of the built bundle. Only with DEBUG: a production
# page never runs scripts from another origin.
VITE_DEV_SERVER = os.environ.get("VITE_DEV_SERVER", "").rstrip("/") if DEBUG else ""
STATICFILES_DIRS = [("frontend", FRONTEND_DIST)] if FRONTEND_DIST.exists() else []
WHITENOISE_USE_FINDERS = True

MEDIA_ROOT = DATA_DIR / "media"
# "local" (default), "s3" for any S3-compatible store, or a storage class's dotted path.
_storage = os.environ.get("STORAGE_BACKEND", "local")
_STORAGE_BACKENDS = {
    "local": "django.core.files.storage.FileSystemStorage",
    "s3": "storages.backends.s3.S3Storage",
}
STORAGES: dict[str, dict[str, object]] = {
    "default": {"BACKEND": _STORAGE_BACKENDS.get(_storage, _storage)},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if _storage == "s3":
    STORAGES["default"]["OPTIONS"] = {
        "bucket_name": os.environ.get("S3_BUCKET", "automl-console"),
        "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
        "region_name": os.environ.get("S3_REGION") or None,
        "access_key": _env_secret("S3_ACCESS_KEY_ID"),
        "secret_key": _env_secret("S3_SECRET_ACCESS_KEY"),
        "file_overwrite": False,
        "default_acl": None,
    }

# Every uploaded file streams to disk, never to memory.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.TemporaryFileUploadHandler"]
# Resumable uploads and derived versions are staged next to the media folder, so that local
# storage moves them into place instead of copying.
UPLOAD_STAGING_DIR = str(DATA_DIR / "uploads")
# A resumable upload left untouched this long is forgotten, with its staged bytes.
UPLOAD_EXPIRY_SECONDS = int(os.environ.get("UPLOAD_EXPIRY_SECONDS", str(24 * 3600)))
DATASET_MAX_BYTES = int(os.environ.get("DATASET_MAX_BYTES", str(1 << 30)))
# What one user may hold: bytes announced by unfinished uploads, and bytes of stored datasets.
USER_STAGED_MAX_BYTES = int(os.environ.get("USER_STAGED_MAX_BYTES", str(2 * DATASET_MAX_BYTES)))
USER_STORED_MAX_BYTES = int(os.environ.get("USER_STORED_MAX_BYTES", str(20 << 30)))

# How many reverse proxies of our own stand in front of the web process: only their entries
# of X-Forwarded-For are believed (0: none; the socket's peer is the client).
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
# Failed sign-ins allowed per client address and per account within the window.
SIGNIN_WINDOW_SECONDS = int(os.environ.get("SIGNIN_WINDOW_SECONDS", "900"))
SIGNIN_MAX_FAILURES_PER_ADDRESS = int(os.environ.get("SIGNIN_MAX_FAILURES_PER_ADDRESS", "30"))
SIGNIN_MAX_FAILURES_PER_ACCOUNT = int(os.environ.get("SIGNIN_MAX_FAILURES_PER_ACCOUNT", "10"))

_IS_PREDICTOR = os.environ.get("DJANGO_SETTINGS_MODULE") == "console.predictor_settings"

REST_FRAMEWORK = {
    # DRF's throttles read X-Forwarded-For only through this many trusted proxies.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # Personal API tokens (hashed, scoped) and the legacy one-per-user token.
        "console.tokens.ApiTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "console.permissions.TokenScope",
    ],
    "DEFAULT_PARSER_CLASSES": [
        "console.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "console.pagination.CursorPage",
    "PAGE_SIZE": 50,
    # `?field=value` filters where a list declares them, `?ordering=-field` on every list.
    "DEFAULT_FILTER_BACKENDS": [
        "console.lists.ListFilters",
        "console.lists.AllowListOrdering",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "EXCEPTION_HANDLER": "console.errors.handler",
    # The predictor process (these settings, through console.predictor_settings) serves
    # applications at volume: it throttles only when PREDICTOR_RATE_USER is set.
    "DEFAULT_THROTTLE_CLASSES": (
        ["console.throttling.UserOrTokenRateThrottle", "console.throttling.AnonRateThrottle"]
        if not _IS_PREDICTOR or os.environ.get("PREDICTOR_RATE_USER")
        else []
    ),
    "DEFAULT_THROTTLE_RATES": {
        # Generous: the UI polls, and a script may stream many predictions.
        "user": os.environ.get(
            "PREDICTOR_RATE_USER" if _IS_PREDICTOR else "API_RATE_USER", "1200/min"
        ),
        "anon": os.environ.get("API_RATE_ANON", "120/min"),
    },
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "AutoML console API",
    "DESCRIPTION": (
        "Upload datasets, train models, register, deploy and predict. Errors share one "
        "format (`Error`); see docs/api.md."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Like every other page: the schema and its viewers are for signed-in users and tokens.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No badge from the public validator service.
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "deepLinking": True},
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "jobs.models.TrainingJob.Status",
        "DatasetStatusEnum": "jobs.models.Dataset.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "console.schema.add_error_responses",
    ],
}

# How long a websocket without a session or token header waits for a `{"token": ...}` message.
WEBSOCKET_AUTH_TIMEOUT_SECONDS = float(os.environ.get("WEBSOCKET_AUTH_TIMEOUT_SECONDS", "3"))

# How long a create's answer is replayed to retries with the same Idempotency-Key.
IDEMPOTENCY_TTL_SECONDS = int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", str(24 * 3600)))

REDIS_URL = os.environ.get("REDIS_URL", "")
EMBEDDED = not REDIS_URL

if not EMBEDDED:
    # Shared by every web replica: sign-in counts and throttles must not reset per process.
    CACHES = {
        "default": {
            "BACKEND": "console.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_PREFIX", "console"),
            # One pool and one client a process, not one a request's thread or a call each
            # (console/cache.py).
            "OPTIONS": {"pool_class": "console.cache.SharedConnectionPool"},
        }
    }

if EMBEDDED:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "console.channel_layers.SQLiteChannelLayer",
            "CONFIG": {"path": str(DATA_DIR / "channels.sqlite3")},
        }
    }
    CELERY_BROKER_URL = "filesystem://"
    # kombu's filesystem transport, with messages renamed into place whole (console/broker.py).
    CELERY_BROKER_TRANSPORT = "console.broker:Transport"
    _broker_dir = DATA_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
else:
    # Pub/sub: an event is published once and each web process hands it to its own watchers.
    # The list-based layer copies every event into each watcher's list in Redis, capped at 100
    # a list: 500 watchers of a job emitting 50 events/s lost 81% of them (bench/load.py).
    # Pub/sub delivers at most once; the consumers fill any gap from the stored events.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": os.environ.get("CHANNEL_PREFIX", "asgi")},
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    # Longer than any job, so Redis never hands a running job to a second worker; the claim in
    # the database is the second guard.
    # Message priorities: kombu keeps one list per step ("cpu", "cpu:3", "cpu:6", "cpu:9") and
    # a worker pops them in step order, so 0 is taken first (jobs/services/queueing.py maps a
    # job's priority to a step). The queue order strategy stays round-robin: it orders the
    # queues within one step, and "priority" would let one queue starve the others.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 7 * 24 * 3600,
        "priority_steps": [0, 3, 6, 9],
        "sep": ":",
    }

CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_DEFAULT_QUEUE", "cpu")
# Tasks that take seconds to minutes (profiling an upload) have a queue of their own, served by
# workers that take no training jobs: with one worker busy training for hours, an upload would
# otherwise wait for the job to end before anyone could use it.
SHORT_QUEUE = os.environ.get("CELERY_SHORT_QUEUE", "short")
# The niceness a worker's child takes for a training or batch task (console.celery): lower
# CPU priority than the web and the predictor on the same machine. 0 keeps the worker's own.
TRAINING_NICENESS = int(os.environ.get("TRAINING_NICENESS", "10"))
CELERY_TASK_ROUTES = {
    "jobs.tasks.profile_dataset": {"queue": SHORT_QUEUE},
    # Scoring a whole dataset can take as long as training: the training workers' queue, whose
    # children run one task each and give their memory back.
    "models_registry.tasks.run_batch_prediction": {"queue": CELERY_TASK_DEFAULT_QUEUE},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# A GPU worker runs one pool process per card it lists here ("0,1,2,3"): each pool process is
# given its own card as CUDA_VISIBLE_DEVICES (console/celery.py), so N jobs or N trial runners
# of one search train at once, one per card, and the worker's concurrency is the number of
# cards. Empty (CPU workers, or a worker that sees one card): no pinning.
GPU_DEVICES = [card.strip() for card in os.environ.get("GPU_DEVICES", "").split(",")]
GPU_DEVICES = [card for card in GPU_DEVICES if card]
if GPU_DEVICES:
    CELERY_WORKER_CONCURRENCY = len(GPU_DEVICES)

PREDICTOR_URL = os.environ.get("PREDICTOR_URL", "http://127.0.0.1:8001").rstrip("/")
PREDICTOR_PUBLIC_URL = os.environ.get("PREDICTOR_PUBLIC_URL", PREDICTOR_URL).rstrip("/")
PREDICTOR_POLL_SECONDS = float(os.environ.get("PREDICTOR_POLL_SECONDS", "0.5"))
# With PostgreSQL the predictor hears of changes by NOTIFY; it re-reads this often besides.
PREDICTOR_SAFETY_POLL_SECONDS = float(os.environ.get("PREDICTOR_SAFETY_POLL_SECONDS", "30"))
# Micro-batching: at most this many rows per model call, and at most this long waited for
# more rows under load (a lone request never waits).
PREDICTOR_MAX_BATCH_ROWS = int(os.environ.get("PREDICTOR_MAX_BATCH_ROWS", "256"))
PREDICTOR_MAX_BATCH_WAIT_MS = float(os.environ.get("PREDICTOR_MAX_BATCH_WAIT_MS", "2"))
# torch's intra-op threads in the predictor: more fight the server's own thread for the cores.
PREDICTOR_TORCH_THREADS = int(os.environ.get("PREDICTOR_TORCH_THREADS", "1"))
# A bearer token that may read /metrics besides staff users' tokens (a Prometheus scraper).
PREDICTOR_METRICS_TOKEN = os.environ.get("PREDICTOR_METRICS_TOKEN", "")
# Each replica writes its per-minute traffic counts (DeploymentTraffic) this often; rows older
# than the retention are deleted (by the replicas, once an hour).
PREDICTOR_TRAFFIC_FLUSH_SECONDS = float(os.environ.get("PREDICTOR_TRAFFIC_FLUSH_SECONDS", "5"))
DEPLOYMENT_TRAFFIC_RETENTION_DAYS = float(os.environ.get("DEPLOYMENT_TRAFFIC_RETENTION_DAYS", "30"))
# Unload a deployment from a replica's memory after this many seconds without a request; the
# next request waits while it loads again. 0 keeps every deployment loaded.
PREDICTOR_IDLE_UNLOAD_SECONDS = float(os.environ.get("PREDICTOR_IDLE_UNLOAD_SECONDS", "0"))

KERAS_BACKEND = os.environ.get("KERAS_BACKEND", "torch")
# A running job's worker beats about once a second during training; data loading and model
# saving take longer, hence the margin.
JOB_HEARTBEAT_STALE_SECONDS = int(os.environ.get("JOB_HEARTBEAT_STALE_SECONDS", "120"))
# A runner of a parallel job (jobs/services/trial_pool.py) beats its trial's ticket about once
# a second; the search's owner takes a ticket silent this long as lost, and its trial failed.
TRIAL_HEARTBEAT_STALE_SECONDS = int(os.environ.get("TRIAL_HEARTBEAT_STALE_SECONDS", "30"))
# How many jobs one user may have RUNNING at once (0: no limit); further jobs wait QUEUED, and
# start as the user's running jobs end (jobs/services/queueing.py).
USER_MAX_RUNNING_JOBS = int(os.environ.get("USER_MAX_RUNNING_JOBS", "2"))
JOB_REAP_INTERVAL_SECONDS = float(os.environ.get("JOB_REAP_INTERVAL_SECONDS", "30"))
# A profiler beats about once a second while it reads; one batch of a wide file can take much
# longer, hence the margin. The same reaper (every JOB_REAP_INTERVAL_SECONDS) checks it.
DATASET_HEARTBEAT_STALE_SECONDS = int(os.environ.get("DATASET_HEARTBEAT_STALE_SECONDS", "120"))
# A dataset's file is read in a child process held to this much resident memory in all (the
# worker's pages it starts with included) and time: a hostile file fails its dataset, not the
# worker. Under issue 10's 1 GB per process, with room for what a child adds before the
# parent's watch stops it (jobs/services/sandbox.py).
PROFILE_MEMORY_BYTES = int(os.environ.get("PROFILE_MEMORY_BYTES", str(960 << 20)))
# The web's check of an upload's start (jobs/services/datasets.py), which reads at most a few
# MB of it, runs in a child too: it may add this much to what the web process holds.
INSPECT_MEMORY_BYTES = int(os.environ.get("INSPECT_MEMORY_BYTES", str(256 << 20)))
INSPECT_MAX_SECONDS = int(os.environ.get("INSPECT_MAX_SECONDS", "30"))
PROFILE_MAX_SECONDS = int(os.environ.get("PROFILE_MAX_SECONDS", "3600"))

if not DEBUG:
    SESSION_COOKIE_HTTPONLY = True
    X_FRAME_OPTIONS = "DENY"
    SECURE_CONTENT_TYPE_NOSNIFF = True
# HTTPS only in production unless SECURE_COOKIES=0 says the console is reached over plain HTTP
# on a trusted network; `make run` and DEBUG serve plain HTTP on localhost.
if _env_bool("SECURE_COOKIES", PRODUCTION):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    if TRUSTED_PROXY_COUNT:
        # Behind a TLS-terminating proxy the request reaches us over HTTP; the proxy says which.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
