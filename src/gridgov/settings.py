"""Django settings for GridGov, read from the environment with safe defaults.

Environment:
  GRIDGOV_DATA_DIR   where SQLite, the queue, uploads and demo-logins.json live (default ./var)
  DATABASE_URL       PostgreSQL (e.g. postgres://user@127.0.0.1:5432/gridgov); SQLite in WAL mode when unset
  REDIS_URL          Huey on Redis when set; Huey on SQLite in the data directory otherwise
  SECRET_KEY         required in production; a key is generated into the data directory otherwise
  GRIDGOV_DEBUG      1 for development error pages
  GRIDGOV_ALLOWED_HOSTS  comma-separated host names served besides localhost/127.0.0.1/[::1]
  GRIDGOV_PROXY_SSL_HEADER  the header a TLS-terminating proxy sets to "https" (e.g. X-Forwarded-Proto)
  GRIDGOV_HSTS_SECONDS   Strict-Transport-Security max-age (default: 1 year with GRIDGOV_SECURE_COOKIES, else 0)
  GRIDGOV_MFA_REQUIRED   1 to make the TOTP second factor mandatory for staff roles
  GRIDGOV_SESSION_IDLE_SECONDS  idle session timeout (default 1800)
  GRIDGOV_PII_KEYS   encryption keys of personal information, "k2:BASE64,k1:BASE64" (first = current;
                     "k3:sm4:BASE64" for SM4-GCM); a development key is generated into the data directory otherwise
  GRIDGOV_PII_HASH_KEY  BASE64 key of the keyed hashes that find ID numbers and phones; generated likewise
  GRIDGOV_PUBLIC_URL  the address residents reach the system at (e.g. https://grid.example.gov.cn), printed
                     into QR labels; without it a label carries the address the request that printed it came to
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(os.environ.get("GRIDGOV_DATA_DIR") or Path.cwd() / "var").resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("GRIDGOV_DEBUG")
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("GRIDGOV_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "ninja",
    "gridgov.core",
    "gridgov.accounts",
    "gridgov.territory",
    "gridgov.cases",
    "gridgov.registry",
    "gridgov.rental",
    "gridgov.fieldwork",
    "gridgov.demo",
    "csp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "gridgov.core.middleware.ApiEdgeMiddleware",
    "csp.middleware.CSPMiddleware",
    "gridgov.core.middleware.DenialAuditMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "gridgov.core.middleware.ApiProblemMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gridgov.accounts.middleware.IdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gridgov.urls"
WSGI_APPLICATION = "gridgov.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "gridgov.sqlite3",
            "OPTIONS": {
                # WAL, a busy timeout and immediate write transactions: concurrent readers never block
                # the writer and two writers queue instead of failing with "database is locked".
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
            },
            # Tests use a database file rather than SQLite's in-memory default, so that a worker
            # process started by a test sees what the test committed (core/tests/test_outbox.py).
            "TEST": {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- background work ------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
HUEY_IMMEDIATE = env_bool("GRIDGOV_HUEY_IMMEDIATE")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": os.environ.get("GRIDGOV_QUEUE_NAME", "gridgov"),
        "url": REDIS_URL,
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "gridgov",
        "filename": str(DATA_DIR / "queue.sqlite3"),
        "immediate": HUEY_IMMEDIATE,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

# --- accounts and security (等保2.0 level 3) -----------------------------------------------
AUTH_USER_MODEL = "accounts.User"
# Django's own logins (the back office) go through the same lockout and audit log as the API.
AUTHENTICATION_BACKENDS = ["gridgov.accounts.backends.LockoutModelBackend"]
# Reverse proxies in front of GridGov (nginx: 1): the audited client address comes from X-Forwarded-For.
GRIDGOV_NUM_PROXIES = int(os.environ.get("GRIDGOV_NUM_PROXIES", "0"))
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "gridgov.accounts.passwords.ComplexityValidator",
        "OPTIONS": {"min_length": 8, "min_classes": 3},
    },
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
GRIDGOV_LOGIN_MAX_FAILURES = int(os.environ.get("GRIDGOV_LOGIN_MAX_FAILURES", "5"))
GRIDGOV_LOGIN_LOCK_SECONDS = int(os.environ.get("GRIDGOV_LOGIN_LOCK_SECONDS", str(30 * 60)))
GRIDGOV_SESSION_IDLE_SECONDS = int(os.environ.get("GRIDGOV_SESSION_IDLE_SECONDS", str(30 * 60)))
GRIDGOV_MFA_REQUIRED = env_bool("GRIDGOV_MFA_REQUIRED")
GRIDGOV_AUDIT_RETENTION_DAYS = int(os.environ.get("GRIDGOV_AUDIT_RETENTION_DAYS", "183"))
# Raw GPS fixes of a patrol (行踪轨迹, personal) are kept this many days, then purged (the track stays).
FIELDWORK_RAW_DAYS = int(os.environ.get("GRIDGOV_FIELDWORK_RAW_DAYS", "30"))
SESSION_COOKIE_AGE = 12 * 3600
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("GRIDGOV_SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
LOGIN_URL = "/admin/login/"

# --- rate limits (core/ratelimit.py, django-ratelimit) --------------------------------------
# Counted in the cache "ratelimit": on Redis when REDIS_URL is set (shared by every worker and host),
# otherwise in a file cache in the data directory (shared by the workers of one host, as SQLite is).
# GRIDGOV_RATELIMIT_CACHE_DIR moves the file cache. RATELIMIT_ENABLE=0 switches every limit off.
if REDIS_URL:
    _RATELIMIT_CACHE = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "gridgov-rl",
    }
else:
    _RATELIMIT_CACHE = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": os.environ.get("GRIDGOV_RATELIMIT_CACHE_DIR") or str(DATA_DIR / "ratelimit-cache"),
        "OPTIONS": {"MAX_ENTRIES": 100_000},
    }
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "ratelimit": _RATELIMIT_CACHE,
}
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_ENABLE = env_bool("RATELIMIT_ENABLE", True)
# The file cache's increments are not atomic across processes; counts can fall short by the requests that
# race, never exceed. The per-account lock that must be exact is an atomic UPDATE in the database.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]
# "N/Pu": N per P units (s, m, h, d). Environment: GRIDGOV_RATELIMIT_<GROUP> (upper case, "-" → "_").
_RATELIMIT_DEFAULTS = {
    "login-address": "20/10m",  # failed logins (wrong password or code, unknown or locked account) per address
    "login-account": "10/10m",  # failed logins per account name (per account and address for administrators)
    "totp-confirm": "10/10m",  # wrong codes when enrolling the second factor, per account
    "invalid-token": "30/m",  # unknown, expired or revoked API tokens per address
    "public": "120/m",  # anonymous endpoints (CSRF cookie, health) per address
    "registry-exact-search": "100/h",  # exact-value searches (ID number, phone) of the registry per user
    "default": "120/m",
}
GRIDGOV_RATELIMITS = {
    group: os.environ.get("GRIDGOV_RATELIMIT_" + group.upper().replace("-", "_"), rate)
    for group, rate in _RATELIMIT_DEFAULTS.items()
}

# --- i18n: Chinese first --------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "Asia/Shanghai"
USE_TZ = True

# --- static and uploads ---------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"
# Photos (core/attachments.py): the largest upload accepted, and the largest image in pixels (a decompression bomb
# above it is refused before it is decoded).
# An upload is kept in memory up to this size; a larger one (an import of a whole district) is spooled by
# Django into FILE_UPLOAD_TEMP_DIR for the length of the request, a private folder that `gridgov serve`
# empties when it starts (a killed request cannot leave personal data behind for long).
FILE_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("GRIDGOV_UPLOAD_MEMORY_BYTES", str(64 * 1024 * 1024)))
FILE_UPLOAD_TEMP_DIR = str(DATA_DIR / "upload-spool")
Path(FILE_UPLOAD_TEMP_DIR).mkdir(mode=0o700, exist_ok=True)
FILE_UPLOAD_PERMISSIONS = 0o600
GRIDGOV_UPLOAD_MAX_BYTES = int(os.environ.get("GRIDGOV_UPLOAD_MAX_BYTES", str(10 * 1024 * 1024)))
GRIDGOV_UPLOAD_MAX_PIXELS = int(os.environ.get("GRIDGOV_UPLOAD_MAX_PIXELS", str(50_000_000)))
WHITENOISE_USE_FINDERS = True

# --- notifications (core/notifications.py, core/outbox.py) ---------------------------------------------
# The external channels that are on, comma-separated (e.g. "log"; later "wecom,sms"). None by default:
# notifications are then in-app only.
GRIDGOV_NOTIFY_CHANNELS = [
    c.strip() for c in os.environ.get("GRIDGOV_NOTIFY_CHANNELS", "").split(",") if c.strip()
]
# How long a worker holds an outbox row it is delivering before another may take it over, and how
# many attempts a row gets before it is marked failed.
GRIDGOV_OUTBOX_LEASE_SECONDS = int(os.environ.get("GRIDGOV_OUTBOX_LEASE_SECONDS", "120"))
GRIDGOV_OUTBOX_MAX_ATTEMPTS = int(os.environ.get("GRIDGOV_OUTBOX_MAX_ATTEMPTS", "8"))

# --- territory ------------------------------------------------------------------------------
GRIDGOV_DISTRICT_CODE = os.environ.get("GRIDGOV_DISTRICT_CODE", "440309")
GRIDGOV_GRID_HOUSEHOLDS = (300, 500)
GRIDGOV_COMMUNITY_HOUSEHOLDS = 3000
GRIDGOV_COMMUNITY_TOLERANCE = 0.2  # a community is "about 3000 households" within ±20 %
# Map tiles: an operator's tile server (天地图, own OSM); empty = grid polygons on a blank base.
GRIDGOV_TILE_URL = os.environ.get("GRIDGOV_TILE_URL", "")
# The external base URL printed into QR labels (rental houses' 一屋一码); empty: the printing request's own.
GRIDGOV_PUBLIC_URL = os.environ.get("GRIDGOV_PUBLIC_URL", "").strip().rstrip("/")

# --- security headers (the browser and HTTP; docs/security.md) ---------------------------------------
# Host names: localhost always, the deployment's names from GRIDGOV_ALLOWED_HOSTS (never "*" by default:
# a forged Host header would otherwise reach password-reset links and absolute URLs).
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]"] + [
    h.strip() for h in os.environ.get("GRIDGOV_ALLOWED_HOSTS", "").split(",") if h.strip()
]
# Behind a TLS-terminating proxy that sets e.g. "X-Forwarded-Proto: https" (and strips it from clients).
_PROXY_SSL_HEADER = os.environ.get("GRIDGOV_PROXY_SSL_HEADER", "").strip()
if _PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
# HSTS is sent only on HTTPS requests; on by default when the cookies are marked Secure (TLS deployment).
SECURE_HSTS_SECONDS = int(
    os.environ.get("GRIDGOV_HSTS_SECONDS", str(365 * 24 * 3600 if SESSION_COOKIE_SECURE else 0))
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("GRIDGOV_HSTS_INCLUDE_SUBDOMAINS")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"


def _tile_source(url: str) -> list[str]:
    """The origin of the operator's map tiles for img-src ("https://t{s}.tianditu.gov.cn/…" →
    "https://*.tianditu.gov.cn"); nothing for tiles served by GridGov itself."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.replace("{s}", "SUB"))
    if not parts.scheme or not parts.netloc:
        return []
    host = parts.netloc
    if "." in host and ("SUB" in host.split(".", 1)[0] or "{" in host.split(".", 1)[0]):
        host = "*." + host.split(".", 1)[1]
    return [f"{parts.scheme}://{host}"]


# Content-Security-Policy (django-csp): scripts only from our own files (no inline script, no eval);
# inline style attributes are allowed because Element Plus, Vant, ECharts and Leaflet position their
# popups, tooltips and map panes with them; images may be data:/blob: URIs (Leaflet's markers, photo
# previews) and the operator's tile server; nothing else leaves the server.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *_tile_source(GRIDGOV_TILE_URL)],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- registry: personal information (PIPL, 等保2.0) -------------------------------------------


def _pii_secret(env: str, filename: str, size: int, key_id: str = "") -> str:
    """A key from the environment, else one generated once into the data directory (development)."""
    value = os.environ.get(env, "").strip()
    if value:
        return value
    path = DATA_DIR / filename
    if not path.exists():
        material = base64.b64encode(secrets.token_bytes(size)).decode()
        path.write_text(f"{key_id}:{material}" if key_id else material)
        path.chmod(0o600)
    return path.read_text().strip()


GRIDGOV_PII_KEYS = _pii_secret("GRIDGOV_PII_KEYS", "pii_keys", 32, key_id="dev1")
GRIDGOV_PII_HASH_KEY = _pii_secret("GRIDGOV_PII_HASH_KEY", "pii_hash_key", 32)
# Imports: the largest file accepted, rows per committed batch, the longest text in one cell.
GRIDGOV_REGISTRY_IMPORT_MAX_BYTES = int(
    os.environ.get("GRIDGOV_REGISTRY_IMPORT_MAX_BYTES", str(512 * 1024 * 1024))
)
GRIDGOV_REGISTRY_BATCH_ROWS = int(os.environ.get("GRIDGOV_REGISTRY_BATCH_ROWS", "20000"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("GRIDGOV_LOG_LEVEL", "INFO")},
    "loggers": {"django.request": {"level": "ERROR"}, "huey": {"level": "WARNING"}},
}
