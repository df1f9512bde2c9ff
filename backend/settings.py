"""Flowyard settings, read from environment variables.

Embedded default (no variables set): SQLite and blobs under ./var, the in-process dispatcher and the
in-memory channel layer. Production: DATABASE_URL (Postgres), REDIS_URL (Celery broker and channel layer),
S3 settings for blobs.
"""

import contextlib
import os
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("FLOWYARD_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # The embedded default must start with no configuration; keep a stable key per installation.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://127.0.0.1:8000,http://localhost:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc as static files: the API docs work offline
    "channels",
    "backend.core",
    "backend.accounts",
    "backend.workflows",
    "backend.registry",
    "backend.storage",
    "backend.cache",
    "backend.runs",
    "backend.uploads",
    "backend.compat",
    "backend.workers_registry",
    "backend.automation",
    "backend.flowapps",
    "backend.approvals",
    "backend.coedit",
    "axes",
    "csp",
]

AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: it turns a login refused by AxesStandaloneBackend into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "backend.urls"
ASGI_APPLICATION = "backend.asgi.application"
WSGI_APPLICATION = "backend.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "backend" / "templates"],
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

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'flowyard.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process and the in-process runner threads read while one writes.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        # IMMEDIATE: a transaction takes the write lock when it begins, so two writers queue for it (up to
        # `timeout`) instead of one failing at once with "database is locked" when it upgrades a read lock.
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
        }
    )
    # Tests on SQLite use a file like the product does: the default in-memory shared-cache database locks
    # whole tables between the runner threads and the test ("database table is locked").
    DATABASES["default"].setdefault("TEST", {}).setdefault(
        "NAME", str(Path(tempfile.gettempdir()) / f"flowyard-test-{os.getpid()}.sqlite3")
    )
    # The process's writers take turns at once instead of polling SQLite's lock with sleeps.
    DATABASES["default"]["ENGINE"] = "backend.core.sqlite"
    # A file connection is cheap to keep and costs ~0.7 ms (and WAL pragmas) to open: keep each thread's.
    if "DB_CONN_MAX_AGE" not in os.environ:
        DATABASES["default"]["CONN_MAX_AGE"] = None


def web_database_pool() -> dict[str, Any] | None:
    """Pool options for the web process's Postgres connections (applied by asgi.py), or None.

    A pool of open connections (psycopg_pool) instead of a new connection per request and per websocket
    database call (~3 ms each here; a handshake makes three). Only the web process pools: Celery's prefork
    children must not inherit a parent's pool, so workers, tests and management commands keep plain
    connections. ``DB_POOL=0`` turns it off.
    """
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" or not env_bool("DB_POOL", True):
        return None
    return {
        "min_size": int(os.environ.get("DB_POOL_MIN", "2")),
        "max_size": int(os.environ.get("DB_POOL_MAX", "20")),
        # A request waits this long for a connection, then answers 503 "the database is unavailable".
        "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "1")),
    }


DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Sign-up, the admin's user forms, password changes and createsuperuser all run these (docs/deploy.md
# "Security settings").
FLOWYARD_PASSWORD_MIN_LENGTH = int(os.environ.get("FLOWYARD_PASSWORD_MIN_LENGTH", "10"))
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": FLOWYARD_PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login throttling (django-axes): every password check goes through django.contrib.auth.authenticate (the login
# API, the admin's login), where the first backend refuses a locked-out username or address before the password
# is looked at. After FLOWYARD_LOGIN_FAILURE_LIMIT failures for a username, or from an address, attempts are
# refused with 429 for FLOWYARD_LOGIN_COOLOFF_MINUTES, counted again from each refused attempt.
# Failures are kept in the database, so all web processes share them.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("FLOWYARD_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("FLOWYARD_LOGIN_COOLOFF_MINUTES", "15")))
# Each item locks on its own ("username", "ip_address"), or on a combination written "username+ip_address".
AXES_LOCKOUT_PARAMETERS = [
    item.split("+") if "+" in item else item
    for item in env_list("FLOWYARD_LOGIN_LOCKOUT_PARAMETERS", "username,ip_address")
]
# A success must not forget failures: with the address among the parameters, an attacker's login to their own
# account would otherwise reset the counts of the usernames they are guessing from that address.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "backend.accounts.lockout.lockout_response"
# REMOTE_ADDR is the client: daphne --proxy-headers sets it from X-Forwarded-For behind the ingress.
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AXES_VERBOSE = False

# HTTPS (docs/deploy.md "Security settings"): FLOWYARD_HTTPS=true when users reach the site over https (TLS may
# end at a proxy: daphne --proxy-headers takes the scheme from X-Forwarded-Proto). It marks the session and CSRF
# cookies Secure and sends HSTS; plain http (make run on 127.0.0.1) keeps it off.
FLOWYARD_HTTPS = env_bool("FLOWYARD_HTTPS", False)
SESSION_COOKIE_SECURE = FLOWYARD_HTTPS
CSRF_COOKIE_SECURE = FLOWYARD_HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# The SPA reads the csrftoken cookie to send it back in X-CSRFToken, so that cookie cannot be HttpOnly.
CSRF_COOKIE_HTTPONLY = False
SECURE_HSTS_SECONDS = (
    int(os.environ.get("FLOWYARD_HSTS_SECONDS", str(365 * 24 * 3600))) if FLOWYARD_HTTPS else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("FLOWYARD_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("FLOWYARD_HSTS_PRELOAD", False)
# Usually the proxy redirects http to https itself; this makes Django do it (health checks must then use https).
SECURE_SSL_REDIRECT = FLOWYARD_HTTPS and env_bool("FLOWYARD_SSL_REDIRECT", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
FRONTEND_DIST = BASE_DIR / "frontend" / "dist"
# Always listed (and created) so that a frontend build made after settings import is still found.
with contextlib.suppress(OSError):  # a read-only checkout: the directory is then expected to exist already
    FRONTEND_DIST.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [FRONTEND_DIST]
WHITENOISE_USE_FINDERS = True

REDIS_URL = os.environ.get("REDIS_URL", "")


def redis_channel_layers(url: str) -> dict[str, Any]:
    """The production channel layer: Redis pub/sub. A group message is one PUBLISH that each web process
    receives once and hands to its local sockets, where the list-based layer pushes and pops one copy per
    socket (200 round trips for a run watched by 200 sockets). Pub/sub delivers at most once, which is all the
    run sockets need: events are stored before they are published, and a socket fills any gap from the
    database (backend/runs/consumers.py)."""
    return {
        "default": {
            "BACKEND": "backend.core.live.RedisLayer",
            # socket_timeout=None: channels-redis 4.3 with redis-py 8 drops idle sockets after ~5 s otherwise.
            # socket_connect_timeout: an unreachable Redis fails a request in a second instead of hanging it.
            "CONFIG": {"hosts": [{"address": url, "socket_timeout": None, "socket_connect_timeout": 1}]},
        }
    }


if REDIS_URL:
    CHANNEL_LAYERS = redis_channel_layers(REDIS_URL)
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "backend.core.live.LocalChannelLayer"}}

REST_FRAMEWORK = {
    # Bearer first: its WWW-Authenticate header makes anonymous API calls answer 401 rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "backend.accounts.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "EXCEPTION_HANDLER": "backend.accounts.exceptions.exception_handler",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}

# Workflow documents (graph + layout) may be up to 5 MB; the request body needs a little headroom above that.
FLOWYARD_MAX_DOCUMENT_BYTES = int(os.environ.get("FLOWYARD_MAX_DOCUMENT_BYTES", str(5 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = FLOWYARD_MAX_DOCUMENT_BYTES + 1024 * 1024

SPECTACULAR_SETTINGS = {
    "TITLE": "Flowyard API",
    "DESCRIPTION": "Workflows, runs, node catalog and node packs.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ and /api/redoc/ load their scripts and styles from this site, not from a CDN; no validator badge
    # (Swagger UI would fetch it from validator.swagger.io).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# Execution
FLOWYARD_DISPATCHER = os.environ.get("FLOWYARD_DISPATCHER", "local")  # local | celery
FLOWYARD_PARALLELISM = int(os.environ.get("FLOWYARD_PARALLELISM", "4"))
# nodepacks.modelscope and nodepacks.diffusion are built in: they import in tens of ms and load neither torch, diffusers
# nor modelscope until a node runs.
FLOWYARD_NODE_PACKS = env_list(
    "FLOWYARD_NODE_PACKS", "nodepacks.core,nodepacks.diffusion,nodepacks.modelscope"
)
FLOWYARD_BLOB_DIR = Path(os.environ.get("FLOWYARD_BLOB_DIR", VAR_DIR / "blobs"))
# The model library (docs/models.md "Model library"): weight files in ComfyUI's folder layout under this folder,
# plus the folders of ComfyUI extra_model_paths.yaml file(s) (os.pathsep-separated) to use an existing ComfyUI
# models folder as it is. Warm-model budgets: FLOWYARD_MODEL_MEMORY_BYTES (RAM) and FLOWYARD_MODEL_VRAM_BYTES.
FLOWYARD_MODELS_DIR = Path(os.environ.get("FLOWYARD_MODELS_DIR") or VAR_DIR / "models")
FLOWYARD_EXTRA_MODEL_PATHS = [
    p for p in os.environ.get("FLOWYARD_EXTRA_MODEL_PATHS", "").split(os.pathsep) if p.strip()
]
# Node-pack uploads: once the static checks pass, the pack is imported in a one-off host inside the pack sandbox
# (FLOWYARD_PACK_SANDBOX, docs/security.md) to record its node schemas and refuse broken packs; skipped where the
# sandbox is unavailable. An upload waits this many seconds for its verdict before answering 202 (then poll
# /api/packs/versions/<id>).
FLOWYARD_PACK_IMPORT_CHECK = env_bool("FLOWYARD_PACK_IMPORT_CHECK", True)
FLOWYARD_PACK_VERDICT_WAIT = float(os.environ.get("FLOWYARD_PACK_VERDICT_WAIT", "20"))
# Installed packs run in one environment per pack version under this folder (built on first use, shared by
# the processes of one machine); see docs/node-packs.md "Installed packs at run time".
FLOWYARD_PACK_ENV_ROOT = Path(os.environ.get("FLOWYARD_PACK_ENV_ROOT", VAR_DIR / "packs"))
# How often each worker removes its machine's environments of pack versions nothing may run (0: never).
FLOWYARD_PACK_ENV_GC_SECONDS = float(os.environ.get("FLOWYARD_PACK_ENV_GC_SECONDS", str(6 * 3600)))

# Celery (FLOWYARD_DISPATCHER=celery): Redis is the broker; the database row, not a result backend, is the truth.
# acks_late + reject_on_worker_lost: a worker that dies mid-run gives the message back, and the run's
# conditional claim makes a redelivery harmless. Our own queue names: see backend/celery.py.
FLOWYARD_CPU_QUEUE = os.environ.get("FLOWYARD_CPU_QUEUE", "flowyard.cpu")
FLOWYARD_GPU_QUEUE = os.environ.get("FLOWYARD_GPU_QUEUE", "flowyard.gpu")
# A run with nodes that prefer a GPU (device "gpu") while no GPU worker is live: run it on a CPU (slowly) rather
# than refuse it at submit. On by default in embedded mode (one machine, whatever it has); "gpu-only" nodes are
# refused without a GPU whatever this says.
FLOWYARD_GPU_FALLBACK_TO_CPU = env_bool("FLOWYARD_GPU_FALLBACK_TO_CPU", FLOWYARD_DISPATCHER == "local")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = FLOWYARD_CPU_QUEUE
CELERY_TASK_CREATE_MISSING_QUEUES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker blip must not cancel the runs being executed: their state is in Postgres, not in the message.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# A Celery worker keeps its task connection this many seconds across tasks (checked before reuse, closed when
# unusable or older; backend/runs/celery_worker.py) instead of connecting per task. 0: a new connection per task.
FLOWYARD_WORKER_CONN_MAX_AGE = int(os.environ.get("FLOWYARD_WORKER_CONN_MAX_AGE", "300"))
# Workers (backend/workers_registry): heartbeats, and recovery of runs whose worker died (backend/runs/recovery.py).
FLOWYARD_WORKER_HEARTBEAT_SECONDS = float(os.environ.get("FLOWYARD_WORKER_HEARTBEAT_SECONDS", "5"))
FLOWYARD_WORKER_LOST_SECONDS = float(os.environ.get("FLOWYARD_WORKER_LOST_SECONDS", "30"))
# Each web process compares what its sockets were sent with what is stored this often and fills gaps from the
# database (backend/runs/feeds.py): events published while the channel layer was down still arrive.
FLOWYARD_LIVE_HEARTBEAT_SECONDS = float(os.environ.get("FLOWYARD_LIVE_HEARTBEAT_SECONDS", "2"))
# The web process's GIL switch interval in milliseconds (backend/asgi.py; Python's default is 5).
FLOWYARD_WEB_GIL_SWITCH_MS = float(os.environ.get("FLOWYARD_WEB_GIL_SWITCH_MS", "1"))
# A RUNNING run on a worker the registry does not know is presumed orphaned after this long without events.
FLOWYARD_RUN_STALL_SECONDS = float(os.environ.get("FLOWYARD_RUN_STALL_SECONDS", "600"))
FLOWYARD_MAX_RUN_ATTEMPTS = int(os.environ.get("FLOWYARD_MAX_RUN_ATTEMPTS", "3"))
# The reconciliation loop's period: every worker runs it on a thread of its own (backend/runs/celery_worker.py), the
# embedded web process from its heartbeat thread.
FLOWYARD_SWEEP_SECONDS = float(os.environ.get("FLOWYARD_SWEEP_SECONDS", "10"))
# A run handed to the dispatcher this long ago, still queued, whose message is in no queue and held by no worker
# (lost with a Redis restart) is dispatched again.
FLOWYARD_DISPATCH_GRACE_SECONDS = float(os.environ.get("FLOWYARD_DISPATCH_GRACE_SECONDS", "30"))
# How long a worker retries a claim or an event write while the database is unreachable (backend/runs/retries.py).
FLOWYARD_DB_RETRY_SECONDS = float(os.environ.get("FLOWYARD_DB_RETRY_SECONDS", "120"))
# Embedded mode (local dispatcher): the web process registers its runner and sweeps from a thread (false: off).
FLOWYARD_EMBEDDED_WORKER = env_bool("FLOWYARD_EMBEDDED_WORKER", True)

# The recovery sweep is not here: it runs in every worker (see FLOWYARD_SWEEP_SECONDS), never behind runs.
CELERY_BEAT_SCHEDULE = {
    "evict-cache": {
        "task": "flowyard.evict_cache",
        "schedule": 3600.0,
        "options": {"queue": FLOWYARD_CPU_QUEUE},
    },
}

# Runs: the in-process dispatcher's threads, fair use (runs beyond a limit wait in the queue), previews.
FLOWYARD_LOCAL_WORKERS = int(os.environ.get("FLOWYARD_LOCAL_WORKERS", "2"))
FLOWYARD_MAX_RUNNING_PER_USER = int(os.environ.get("FLOWYARD_MAX_RUNNING_PER_USER", "2"))
FLOWYARD_MAX_RUNNING_PER_WORKSPACE = int(os.environ.get("FLOWYARD_MAX_RUNNING_PER_WORKSPACE", "4"))
# Off: the limits hold even when nobody else waits (a lone user's runs never take the idle workers).
FLOWYARD_LEND_IDLE_WORKERS = env_bool("FLOWYARD_LEND_IDLE_WORKERS", True)
# "team-a=2,team-b=0.5": a workspace's limit times its weight (by slug), for teams that paid for more or less.
FLOWYARD_WORKSPACE_WEIGHTS = {
    slug.strip(): float(weight)
    for slug, _, weight in (
        item.partition("=")
        for item in os.environ.get("FLOWYARD_WORKSPACE_WEIGHTS", "").split(",")
        if item.strip()
    )
}
FLOWYARD_MAX_PREVIEW_BYTES = int(os.environ.get("FLOWYARD_MAX_PREVIEW_BYTES", str(256 * 1024)))

# Automation (backend/automation, docs/webhooks.md): webhooks out, trigger URLs, cron schedules.
# Webhook targets must resolve to public addresses: private, loopback, link-local, multicast and reserved ones are
# refused unless allowed here (all of them, or the listed CIDR networks only).
FLOWYARD_WEBHOOK_ALLOW_PRIVATE = env_bool("FLOWYARD_WEBHOOK_ALLOW_PRIVATE", False)
FLOWYARD_WEBHOOK_ALLOWED_NETWORKS = env_list("FLOWYARD_WEBHOOK_ALLOWED_NETWORKS", "")
FLOWYARD_WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("FLOWYARD_WEBHOOK_TIMEOUT_SECONDS", "10"))
FLOWYARD_WEBHOOK_MAX_RESPONSE_BYTES = int(os.environ.get("FLOWYARD_WEBHOOK_MAX_RESPONSE_BYTES", "65536"))
# Failed deliveries are retried (5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then every 2 h) this long after the event.
FLOWYARD_WEBHOOK_RETRY_HOURS = float(os.environ.get("FLOWYARD_WEBHOOK_RETRY_HOURS", "24"))
# Multiplies every retry delay (benchmarks and tests shorten the schedule with it).
FLOWYARD_WEBHOOK_RETRY_SCALE = float(os.environ.get("FLOWYARD_WEBHOOK_RETRY_SCALE", "1"))
# Embedded mode: threads sending deliveries. Celery mode: the queue of the automation tasks (deliveries and the
# tick); a small worker of its own keeps them from waiting behind long runs (docs/webhooks.md).
FLOWYARD_WEBHOOK_WORKERS = int(os.environ.get("FLOWYARD_WEBHOOK_WORKERS", "4"))
FLOWYARD_AUTOMATION_QUEUE = os.environ.get("FLOWYARD_AUTOMATION_QUEUE", FLOWYARD_CPU_QUEUE)
# The tick records a run's end without a delivery, or sends a due delivery nobody sent, this long after.
FLOWYARD_WEBHOOK_SWEEP_GRACE_SECONDS = float(os.environ.get("FLOWYARD_WEBHOOK_SWEEP_GRACE_SECONDS", "30"))
# Embedded mode: how often the web process ticks (Celery beat ticks every minute); 0: never.
FLOWYARD_AUTOMATION_TICK_SECONDS = float(os.environ.get("FLOWYARD_AUTOMATION_TICK_SECONDS", "5"))
# An occurrence fired later than this (or several missed at once) counts as downtime: the catch-up policy decides.
FLOWYARD_SCHEDULE_MISFIRE_SECONDS = float(os.environ.get("FLOWYARD_SCHEDULE_MISFIRE_SECONDS", "300"))

# ComfyUI-compatible API (backend/compat, docs/comfyui-compat.md): always under /comfy/; with this set, also at
# ComfyUI's own paths at the site root (/prompt, /ws, /history...) for clients that cannot take a path prefix.
FLOWYARD_COMFY_AT_ROOT = env_bool("FLOWYARD_COMFY_AT_ROOT", False)

# Uploads: the largest file accepted (the request is refused with 413 while it streams in).
FLOWYARD_MAX_UPLOAD_BYTES = int(os.environ.get("FLOWYARD_MAX_UPLOAD_BYTES", str(50 * 1024 * 1024)))

# Apps (backend/flowapps, docs/apps.md): hosts a file input may be given as a URL from (comma-separated
# "host" or "host:port"; empty: URLs refused), the most bytes fetched from one, and how long (seconds) a signed
# output download URL stays valid.
FLOWYARD_APP_URL_HOSTS = [h for h in os.environ.get("FLOWYARD_APP_URL_HOSTS", "").split(",") if h.strip()]
FLOWYARD_APP_URL_MAX_BYTES = int(os.environ.get("FLOWYARD_APP_URL_MAX_BYTES", str(20 * 1024 * 1024)))
FLOWYARD_APP_DOWNLOAD_URL_MAX_AGE = int(os.environ.get("FLOWYARD_APP_DOWNLOAD_URL_MAX_AGE", "3600"))

# The request edge (backend/core/body_limits.py, unavailable.py, json_input.py; docs/api.md "Errors"). Bodies
# are refused with 413 from Content-Length before they are read, or while they stream: uploads up to
# FLOWYARD_MAX_UPLOAD_BYTES, other routes FLOWYARD_MAX_REQUEST_BYTES, requests without credentials far less.
FLOWYARD_MAX_REQUEST_BYTES = int(
    os.environ.get("FLOWYARD_MAX_REQUEST_BYTES", str(DATA_UPLOAD_MAX_MEMORY_SIZE))
)
FLOWYARD_MAX_ANONYMOUS_REQUEST_BYTES = int(os.environ.get("FLOWYARD_MAX_ANONYMOUS_REQUEST_BYTES", "65536"))
FLOWYARD_MAX_JSON_DEPTH = int(os.environ.get("FLOWYARD_MAX_JSON_DEPTH", "64"))
FLOWYARD_MAX_GRAPH_NODES = int(os.environ.get("FLOWYARD_MAX_GRAPH_NODES", "20000"))
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "backend.core.json_input.StrictJSONParser",
    "rest_framework.parsers.FormParser",
    "rest_framework.parsers.MultiPartParser",
]
# An outage of Postgres or Redis answers 503 JSON with Retry-After within ~2 s, never a 500 after 10 s.
FLOWYARD_UNAVAILABLE_RETRY_AFTER = int(os.environ.get("FLOWYARD_UNAVAILABLE_RETRY_AFTER", "5"))
MIDDLEWARE.insert(0, "backend.core.unavailable.ServiceUnavailableMiddleware")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout",
        int(os.environ.get("DB_CONNECT_TIMEOUT", "2")),  # libpq's minimum is 2 s
    )
    # Parameters bound by the server, and a statement run a few times (psycopg's prepare_threshold, 5) prepared
    # once per connection: a small run's statements are the same text every time, so Postgres stops planning
    # them and psycopg stops quoting parameters into the text (a 10-node run executed ~20% faster, docs/benchmarks.md).
    # Off (``DB_SERVER_SIDE_BINDING=0``) behind a pooler that cannot keep prepared statements (PgBouncer before 1.21
    # in transaction mode).
    DATABASES["default"]["OPTIONS"].setdefault(
        "server_side_binding", env_bool("DB_SERVER_SIDE_BINDING", True)
    )
CELERY_BROKER_CONNECTION_TIMEOUT = float(os.environ.get("CELERY_BROKER_CONNECTION_TIMEOUT", "1"))
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 5}

# Blob store: local directory (default) or an S3 bucket; path-style addressing works with MinIO and moto too.
FLOWYARD_BLOB_BACKEND = os.environ.get("FLOWYARD_BLOB_BACKEND", "local")  # local | s3
FLOWYARD_S3_BUCKET = os.environ.get("FLOWYARD_S3_BUCKET", "flowyard")
FLOWYARD_S3_PREFIX = os.environ.get("FLOWYARD_S3_PREFIX", "blobs/")
AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None
# Presigned download URLs are signed for this address when browsers reach S3 elsewhere than the workers do.
FLOWYARD_S3_PUBLIC_ENDPOINT_URL = os.environ.get("FLOWYARD_S3_PUBLIC_ENDPOINT_URL") or None
# Off: the server streams blobs from S3 itself (with byte ranges) instead of redirecting browsers to the bucket.
FLOWYARD_S3_PRESIGNED_DOWNLOADS = env_bool("FLOWYARD_S3_PRESIGNED_DOWNLOADS", True)
AWS_DEFAULT_REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID") or None
AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY") or None


# Content-Security-Policy (django-csp 4) for the SPA, the API and the admin: scripts only from this origin (Vite
# emits external module scripts, nothing inline). React Flow positions nodes with style attributes, hence
# style-src-attr 'unsafe-inline'; style elements still come from this origin only. Websockets (runs, ComfyUI
# clients) need ws:/wss:. Blobs redirected to a presigned S3 URL load from the bucket's origin. The API docs
# pages allow inline styles for their own responses only (backend/core/api_docs.py).
def _origin(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


BLOB_ORIGINS: list[str] = []
if FLOWYARD_BLOB_BACKEND == "s3" and FLOWYARD_S3_PRESIGNED_DOWNLOADS:
    _endpoint = FLOWYARD_S3_PUBLIC_ENDPOINT_URL or AWS_S3_ENDPOINT_URL
    BLOB_ORIGINS = [_origin(_endpoint)] if _endpoint else ["https://*.amazonaws.com"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *BLOB_ORIGINS],
        "media-src": ["'self'", "blob:", *BLOB_ORIGINS],
        "connect-src": ["'self'", "ws:", "wss:", *BLOB_ORIGINS],
        "font-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Shared cache of node outputs: evicted least-recently-hit first down to the budget; rows touched within the
# protection window are never evicted (a run in progress may be about to load them).
FLOWYARD_CACHE_BUDGET_BYTES = int(os.environ.get("FLOWYARD_CACHE_BUDGET_BYTES", str(20 * 1024**3)))
FLOWYARD_CACHE_PROTECT_SECONDS = int(os.environ.get("FLOWYARD_CACHE_PROTECT_SECONDS", "600"))

# LOG_FORMAT=json gives one JSON object per line (timestamp, level, logger, message, and any `extra=` fields)
# for log collectors; the default stays readable in a terminal.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
