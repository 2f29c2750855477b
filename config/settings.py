"""TinyLink settings: one file, every value read from the environment.

Defaults are safe for development on a laptop (SQLite in ``data/``, local-memory
cache, DEBUG off). Production sets ``SECRET_KEY``, ``ALLOWED_HOSTS``,
``DATABASE_URL`` and the security switches; README lists every variable.
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.api import REST_FRAMEWORK, SPECTACULAR_SETTINGS  # noqa: F401
from config.mail import DEFAULT_FROM, email_settings
from config.storages import backup_storage
from opsconsole.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A git-ignored .env written by `make run`; real environment variables win.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Read as is: django-environ would treat a leading "$" as a reference to
# another variable, and random keys may start with one.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Put it in the environment or in .env "
            "(`make run` writes a random one), or set DJANGO_DEBUG=true for "
            "development."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DJANGO_DEBUG"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Base of every short URL, e.g. https://sho.rt. Empty: the scheme and host of
# the request that asks (what the TinyLink+ original did).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="").rstrip("/")
if PUBLIC_BASE_URL:
    _base = urlsplit(PUBLIC_BASE_URL)
    if _base.scheme not in ("http", "https") or not _base.hostname:
        raise ImproperlyConfigured(
            f"PUBLIC_BASE_URL must be an absolute http(s) URL, got {PUBLIC_BASE_URL!r}."
        )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",  # before links: its failed-sign-in receiver runs first
    "links",
    "opsconsole",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "opsconsole.middleware.RequestIdMiddleware",
    "opsconsole.middleware.HealthProbeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Inside XFrameOptions: the page it puts in place of an empty 405 gets
    # the header too.
    "config.handlers.MethodNotAllowedPage",
    "opsconsole.middleware.DatabaseUnavailableMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# --- Database ---------------------------------------------------------------
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'app.db'}")
}
# Seconds requests answer 503 at once after the database server could not be
# reached, before one tries again (opsconsole/breaker.py).
DATABASE_BREAKER_SECONDS = env.float("DATABASE_BREAKER_SECONDS", default=3.0)
if DATABASE_BREAKER_SECONDS <= 0:
    raise ImproperlyConfigured("DATABASE_BREAKER_SECONDS must be more than 0.")
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # A relative path is relative to the project, not to the current directory.
    _db["NAME"] = str(BASE_DIR / _db["NAME"])
    Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["OPTIONS"] = {
        # Writers take the lock when their transaction starts, so two writers
        # queue on the busy timeout instead of one failing with "database is
        # locked" when it tries to upgrade a read lock.
        "transaction_mode": "IMMEDIATE",
        "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=10),
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA temp_store=MEMORY;"
            "PRAGMA cache_size=-20000;"
        ),
        **_db.get("OPTIONS", {}),
    }
    # Never an in-memory test database: WAL and file locking must behave as
    # they do in production.
    _sqlite_path = Path(_db["NAME"])
    _db["TEST"] = {"NAME": str(_sqlite_path.with_name("test_" + _sqlite_path.name))}
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # Django's built-in psycopg 3 pool; CONN_MAX_AGE must stay 0 with it.
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        "pool": {
            "min_size": env.int("DATABASE_POOL_MIN", default=1),
            "max_size": env.int("DATABASE_POOL_MAX", default=10),
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
            # Its retries back off to 30 s+; stopped, it connects when asked.
            "reconnect_timeout": DATABASE_BREAKER_SECONDS,
        },
        "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=5),
        **_db.get("OPTIONS", {}),
    }
else:
    raise ImproperlyConfigured(
        f"DATABASE_URL must be sqlite:/// or postgres://, got engine {_db['ENGINE']}."
    )
# django-prometheus's wrappers of the same engines count queries and errors;
# code that needs the vendor asks connection.vendor, never the ENGINE string.
_db["ENGINE"] = _db["ENGINE"].replace(
    "django.db.backends.", "django_prometheus.db.backends."
)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ------------------------------------------------------------------
# redis:// and rediss:// (TLS, ?ssl_ca_certs=) map to Django's RedisCache.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://tinylink")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    # redis-py waits forever by default: an unreachable Redis would hang every
    # rate-limited request. With a bound, the limiter fails open (see
    # links.ratelimit) and /health/full reports the cache.
    _cache_timeout = env.float("CACHE_SOCKET_TIMEOUT", default=1.0)
    CACHES["default"]["OPTIONS"] = {
        "socket_connect_timeout": _cache_timeout,
        "socket_timeout": _cache_timeout,
        **CACHES["default"].get("OPTIONS", {}),
        # Last, so no URL option brings pickle back: unpickling runs code.
        "serializer": "config.cache.JSONSerializer",
    }

# --- Auth -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]
# A new password, or a deactivation, revokes the user's API tokens.
API_TOKENS_REVOKE_ON_PASSWORD_CHANGE = env.bool(
    "API_TOKENS_REVOKE_ON_PASSWORD_CHANGE", default=True
)
# Sign-in lock-out (django-axes; docs/security/hardening.md): a user name or a
# client address with this many failures inside the cool-off is refused.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=30))
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME.total_seconds() < 60:
    raise ImproperlyConfigured("LOGIN_FAILURE_LIMIT and LOGIN_COOLOFF_MINUTES: >= 1.")
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "links.clientip.client_ip"
AXES_LOCKOUT_CALLABLE = "links.signin.lockout_response"
# Refused tries do not restart the wait, so the lock-out page's time holds.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/links/"
LOGOUT_REDIRECT_URL = "/"
# A stale form (token rotated by a sign-in elsewhere) gets a page that keeps
# the input, not Django's bare 403.
CSRF_FAILURE_VIEW = "links.csrf.csrf_failure"

# --- Email (docs/operations.md#email) ----------------------------------------
# EMAIL_URL: smtp://user:pass@host:587?tls, smtp+ssl://host:465, consolemail://.
# Unset: the console with DJANGO_DEBUG, else none (no password reset by email).
# Read as is, like SECRET_KEY: a password may hold a "$".
globals().update(email_settings(os.environ.get("EMAIL_URL", ""), debug=DEBUG))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default=DEFAULT_FROM)
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# An SMTP server that never answers must not hold a worker until gunicorn kills it.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# --- I18N / time ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files (served by whitenoise) ------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security switches for production (see `manage.py check --deploy`) -----
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False
)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    # Only behind a proxy that sets X-Forwarded-Proto itself.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# A sign-in lasts a week from signing in (Django: two); see hardening.md.
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=7 * 24 * 3600)
# Only this origin's files run or style a page, nothing inline; data: images
# are icons in the admin's and Swagger UI's stylesheets.
_csp = {"default-src": [SELF], "img-src": [SELF, "data:"], "object-src": [NONE]}
_csp |= {"base-uri": [NONE], "form-action": [SELF], "frame-ancestors": [NONE]}
CONTENT_SECURITY_POLICY = {"DIRECTIVES": _csp}

# --- TinyLink ---------------------------------------------------------------
LINKS_REDIRECT_STATUS = env.str("LINKS_REDIRECT_STATUS", default="302")
if LINKS_REDIRECT_STATUS not in ("301", "302", "307", "308"):
    raise ImproperlyConfigured(
        "LINKS_REDIRECT_STATUS must be 301, 302, 307 or 308, "
        f"got {LINKS_REDIRECT_STATUS!r}."
    )
LINKS_REDIRECT_STATUS = int(LINKS_REDIRECT_STATUS)

# Anonymous POST /api/links for public instances (rate-limited, no owner).
LINKS_ANONYMOUS_CREATE = env.bool("LINKS_ANONYMOUS_CREATE", default=False)

# Rate limits ("100/minute", "10/5s"; empty = off), counted in the cache: use
# a redis:// CACHE_URL so that all gunicorn workers share the counters.
RATE_LIMIT_WRITES = env.str("RATE_LIMIT_WRITES", default="60/minute")
RATE_LIMIT_REDIRECTS = env.str("RATE_LIMIT_REDIRECTS", default="")
# X-Forwarded-For is believed only from peers in these CIDRs (links.clientip);
# TRUSTED_PROXY_NETWORKS is their old name. The count is unused (links.W001).
try:
    TRUSTED_PROXIES = [
        ipaddress.ip_network(net.strip(), strict=False)
        for net in env.list("TRUSTED_PROXIES", default=[])
        or env.list("TRUSTED_PROXY_NETWORKS", default=[])
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from None
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Bulk create takes up to 1,000 links of up to 2 KB each.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 2**20)

# /api/docs and /api/schema for anyone; off: staff only. Public only in DEBUG.
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=DEBUG)

# Seconds between each process's looks for a restore (links/click_hold.py).
CLICK_HOLD_CHECK_SECONDS = env.float("CLICK_HOLD_CHECK_SECONDS", default=1.0)
# The redirect's caches (docs/performance.md): codes kept per process, seconds
# between looks at the links' version (an edit is seen within that), seconds
# between writes of buffered clicks (0: each click written before answering).
LINK_CACHE_SIZE = env.int("LINK_CACHE_SIZE", default=10_000)
LINK_CACHE_CHECK_SECONDS = env.float("LINK_CACHE_CHECK_SECONDS", default=0.5)
CLICK_FLUSH_SECONDS = env.float("CLICK_FLUSH_SECONDS", default=1.0)

# --- Operations (opsconsole) --------------------------------------------------
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(DATA_DIR / "backups")))
# Backups: in BACKUP_DIR, or off this host with s3://BUCKET/PREFIX (AWS_* keys).
BACKUP_STORE_URL = env.str("BACKUP_STORE_URL", default="")
BACKUP_STAGING_DIR = Path(
    env.str("BACKUP_STAGING_DIR", default=str(DATA_DIR / "backup-staging"))
)
# Optional age encryption: the server writes backups it cannot read.
BACKUP_ENCRYPTION_RECIPIENTS = env.list("BACKUP_ENCRYPTION_RECIPIENTS", default=[])
BACKUP_DECRYPTION_KEY_FILE = env.str("BACKUP_DECRYPTION_KEY_FILE", default="")
BACKUP_DECRYPTION_KEY = os.environ.get("BACKUP_DECRYPTION_KEY", "")
# PostgreSQL drills need CREATEDB, or a database of the role's to fill and empty.
RESTORE_TEST_DATABASE = env.str("RESTORE_TEST_DATABASE", default="")
# zstd level for new backups (1 fast … 19 small); 0 stores them uncompressed.
BACKUP_COMPRESSION_LEVEL = env.int("BACKUP_COMPRESSION_LEVEL", default=3)
STORAGES["backups"] = backup_storage(
    BACKUP_STORE_URL,
    endpoint_url=env.str("BACKUP_S3_ENDPOINT_URL", default=""),
    region=env.str("BACKUP_S3_REGION", default=""),
    timeout=env.int("BACKUP_S3_TIMEOUT", default=10),
)
BACKUP_KEEP = env.int("BACKUP_KEEP", default=7)
# Manifests are signed (HMAC) with this key, else one derived from SECRET_KEY;
# rotation keeps the old key in the fallbacks. Read as is, like SECRET_KEY.
BACKUP_SIGNING_KEY = os.environ.get("BACKUP_SIGNING_KEY", "")
BACKUP_SIGNING_KEY_FALLBACKS = [
    key for key in os.environ.get("BACKUP_SIGNING_KEY_FALLBACKS", "").split(",") if key
]
# Hours after which the newest backup is stale; minutes a schedule may be late.
BACKUP_MAX_AGE = env.int("BACKUP_MAX_AGE", default=26)
OPS_SCHEDULE_GRACE_MINUTES = env.int("OPS_SCHEDULE_GRACE_MINUTES", default=60)
# Worker heartbeat and run-lease renewal interval; silent for longer than the
# stale threshold, a worker is stale and its run failed as abandoned (seconds).
try:
    OPS_WORKER_HEARTBEAT_SECONDS = env.float("OPS_WORKER_HEARTBEAT_SECONDS", default=15)
    OPS_WORKER_STALE_SECONDS = env.float("OPS_WORKER_STALE_SECONDS", default=120)
except ValueError as exc:
    raise ImproperlyConfigured(f"OPS_WORKER_*_SECONDS: {exc}") from None
if not 0 < 2 * OPS_WORKER_HEARTBEAT_SECONDS < OPS_WORKER_STALE_SECONDS:
    raise ImproperlyConfigured(
        "OPS_WORKER_STALE_SECONDS must be more than twice "
        "OPS_WORKER_HEARTBEAT_SECONDS, which must be more than 0: one late "
        "heartbeat must not make a live worker look dead."
    )
# /metrics, /health/full: these networks, or "Authorization: Bearer $METRICS_TOKEN".
try:
    METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(net, strict=False)
        for net in env.list(
            "METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"]
        )
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: {exc}") from None
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# prometheus_client opens its files in this directory as soon as a counter is
# defined (at import), so it must exist before the app loads.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    try:
        os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"PROMETHEUS_MULTIPROC_DIR {os.environ['PROMETHEUS_MULTIPROC_DIR']}: "
            f"{exc.strerror}"
        ) from None
HEALTH_DB_TIMEOUT = env.float("HEALTH_DB_TIMEOUT", default=2.0)
HEALTH_MIGRATIONS_TTL = env.int("HEALTH_MIGRATIONS_TTL", default=300)
HEALTH_MIN_FREE_DISK_MB = env.int("HEALTH_MIN_FREE_DISK_MB", default=1024)
LOG_SLOW_QUERY_MS = env.int("LOG_SLOW_QUERY_MS", default=500)
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured("LOG_FORMAT must be json or text.")

LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)
