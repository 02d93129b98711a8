"""Settings for the achievements service.

Everything that differs between a laptop and production comes from the environment (see the
configuration table in README.md). The defaults are safe for development: SQLite in the project
folder, DEBUG off unless asked for, and a throwaway SECRET_KEY only when DEBUG is on.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local env file (`.env` beside manage.py unless ENV_FILE names another; ENV_FILE= empty for
# none) fills in what the real environment does not set. Tests run with none.
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set SECRET_KEY (50+ random characters) for production, or DEBUG=1 for local "
            "development with a throwaway key."
        )
    SECRET_KEY = get_random_secret_key()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # modeltranslation patches the admin, so it must load before django.contrib.admin.
    "modeltranslation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    # Prometheus metrics at /metrics: requests per view, database queries, migrations.
    "django_prometheus",
    # Counts failed admin logins (per client address and per username) and locks them out.
    "axes",
    # Django's Tasks framework (the backport of django.tasks) and its database backend: the
    # webhook worker's queue lives in the application's own database.
    "django_tasks",
    "django_tasks_db",
    # The project's apps, in their dependency order: each imports only from those above it.
    "core",
    "users",
    "achievements",
    "stats",
    "webhooks",
    "events",
    "pages",
]

MIDDLEWARE = [
    # First and last (below): django-prometheus times everything in between.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Outermost, so it strips the body of the final response, whatever answered.
    "core.middleware.HeadResponseMiddleware",
    "core.middleware.RequestIdMiddleware",
    # Outside everything that can answer an error page (a bad Host is refused further in).
    "core.middleware.ApiJsonErrorsMiddleware",
    # Before URL resolution and CommonMiddleware: an API path without its slash is served, not
    # redirected (a redirected write is replayed as a GET and lost).
    "core.middleware.ApiTrailingSlashMiddleware",
    # DRF's JSON parser ignores DATA_UPLOAD_MAX_MEMORY_SIZE; this enforces it for every path.
    "core.middleware.RequestBodyLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below): django-csp's
    # middleware, with the header built once rather than per response.
    "core.middleware.ContentSecurityPolicyMiddleware",
    # WhiteNoise serves static files when no nginx is in front (DEBUG off, `make run`).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's, without the path-prefix lookups of i18n_patterns, which no URL uses.
    "core.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's, skipped under /api/ (no API response shows or stores messages).
    "core.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Innermost, after authentication: stores and replays POSTs carrying an Idempotency-Key,
    # in the same transaction as the view's effect.
    "core.idempotency.IdempotencyKeyMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns a locked-out admin login into its 429 response.
    "axes.middleware.AxesMiddleware",
    # django-prometheus' own, with each labelled series looked up once instead of per request.
    "core.middleware.PrometheusAfterMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # Refuses a locked-out client before the password is checked; logs nobody in itself.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "achievements_site.urls"
WSGI_APPLICATION = "achievements_site.wsgi.application"

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
            ],
        },
    },
]

# Database. SQLite in the project folder unless DATABASE_URL says otherwise.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# Reconnect transparently after the database restarts instead of failing the next request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Bound every wait on the database so an outage becomes a fast 503, never a hung worker.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=3),
            "options": f"-c statement_timeout={env.int('DB_STATEMENT_TIMEOUT_MS', default=15000)}",
            # Parameters bound by the server, and statements run often enough prepared once
            # per connection: no SQL quoting in Python, no re-planning. Behind PgBouncer in
            # transaction mode older than 1.21 (or without max_prepared_statements), set
            # DB_PREPARE_THRESHOLD empty: a prepared statement lives in one server connection.
            "server_side_binding": env.bool("DB_SERVER_SIDE_BINDING", default=True),
            "prepare_threshold": env.int("DB_PREPARE_THRESHOLD", default=5)
            if env.str("DB_PREPARE_THRESHOLD", default="5").strip()
            else None,
        }
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Take the write lock when a transaction starts: concurrent writers queue instead of failing
    # with "database is locked" when a reader upgrades to a writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )

# django-prometheus' wrappers of the same backends count and time every query. They subclass
# Django's own, so OPTIONS (timeouts) and CONN_HEALTH_CHECKS keep working unchanged. On
# PostgreSQL, core's subclass of it skips the health check's round trip while the connection's
# socket is quiet (core/db_backends/postgresql/base.py).
DATABASES["default"]["ENGINE"] = {
    "django.db.backends.postgresql": "core.db_backends.postgresql",
    "django.db.backends.sqlite3": "django_prometheus.db.backends.sqlite3",
}.get(DATABASES["default"]["ENGINE"], DATABASES["default"]["ENGINE"])

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Per-process memory by default; set CACHE_URL=redis://... so throttles hold across workers.
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Seconds a token's account and permissions stay cached (0: looked up on every request). Any
# change to them drops the entry at once, but only in the cache that saw the change: the
# default is on only when that cache is shared by every process (not locmem).
AUTH_TOKEN_CACHE_SECONDS = env.int(
    "AUTH_TOKEN_CACHE_SECONDS",
    default=0 if CACHES["default"]["BACKEND"].endswith(("LocMemCache", "DummyCache")) else 30,
)

# Failed authentications (bad API tokens, bad admin passwords) one client may make per window,
# in DRF's rate syntax; empty turns the limit off.
AUTH_FAILURE_RATE = env.str("AUTH_FAILURE_RATE", default="20/min") or None


def _rate_window(rate: str) -> tuple[int, int]:
    """DRF's rate syntax ("20/min") as (requests, seconds), read the way DRF reads it."""
    count, period = rate.split("/")
    return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]


# django-axes counts bad admin passwords in the same cache, under the same limit.
AXES_ENABLED = AUTH_FAILURE_RATE is not None
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_CACHE = "default"
# Per address and, separately, per username: many addresses cannot share out one account's
# guesses. A locked username unlocks after the cool-off (or `manage.py axes_reset_username`).
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
# axes locks at the failure that reaches the limit; DRF's "20/min" lets 20 through.
AXES_FAILURE_LIMIT = _rate_window(AUTH_FAILURE_RATE)[0] + 1 if AXES_ENABLED else 1
AXES_COOLOFF_TIME = timedelta(seconds=_rate_window(AUTH_FAILURE_RATE)[1] if AXES_ENABLED else 60)
# The client address as the API throttles see it (REMOTE_ADDR, or NUM_PROXIES back in XFF).
AXES_CLIENT_IP_CALLABLE = "core.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "core.throttling.admin_lockout_response"
# axes warns about a per-process cache (the development default, locmemcache://). Production
# sets CACHE_URL to Redis (compose does), as the README says; the API throttles share this.
SILENCED_SYSTEM_CHECKS = [
    "axes.W001",
    # HSTS includeSubDomains and preload are opt-in (SECURE_HSTS_INCLUDE_SUBDOMAINS,
    # SECURE_HSTS_PRELOAD, see below): the defaults must not commit a domain for its owner.
    "security.W005",
    "security.W021",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalization. Adding a language: append it here, then `makemigrations` (the
# translated columns and the users' language choices follow LANGUAGES).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)

STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed names once `collectstatic` has run; plain names until then.
        "BACKEND": "core.storage.StaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Until `collectstatic` has filled STATIC_ROOT (a bare `gunicorn` start, `DEBUG=0 make run` on a
# fresh checkout), WhiteNoise serves the files from the apps' static folders instead.
WHITENOISE_USE_FINDERS = not (Path(STATIC_ROOT) / "staticfiles.json").is_file()

# Request bodies above this are refused before parsing; nginx enforces the same limit.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

# Behind a proxy: trust X-Forwarded-Proto from nginx, which always overwrites it.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The probes and the metrics answer plain HTTP inside the container network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
# Opt-in: both commit every subdomain of the site's domain (and preload lists are hard to
# leave), which the operator of this one host may not own. check --deploy's W005 asks for
# includeSubDomains and W021 preload; both are silenced above for that reason.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
X_FRAME_OPTIONS = "DENY"

# django-csp: only this origin's scripts (no inline script anywhere: Swagger UI's start-up code
# is served as a file by SpectacularSwaggerSplitView). Swagger UI, ReDoc and the admin's
# widgets set inline styles, hence 'unsafe-inline' for styles only; ReDoc builds its search
# worker from a blob: URL; both doc UIs draw icons as data: images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "worker-src": [SELF, "blob:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header turns "no credentials" into 401, not 403.
        # DRF's token scheme, with failed attempts limited per client (AUTH_FAILURE_RATE).
        "core.authentication.LimitedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.ModelPermissionsOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    # JSON first: a client that names no type, or */*, gets JSON; a browser (text/html) gets
    # DRF's browsable API, whose assets DRF ships (nothing from other hosts).
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.renderers.BrowsableAPIRenderer",
    ],
    # DRF's, answering the commonest request (no Accept header, or */*) without parsing.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "core.renderers.ContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        # DRF's rates, counted with one atomic increment so bursts cannot overshoot.
        "core.throttling.AnonRateThrottle",
        "core.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        # An empty rate turns that throttle off.
        "anon": env.str("THROTTLE_ANON_RATE", default="") or None,
        "user": env.str("THROTTLE_USER_RATE", default="") or None,
        "auth_failure": AUTH_FAILURE_RATE,
    },
    # Proxies in front of the app (1 behind compose's nginx): the client address is the one the
    # last proxy appended. 0 trusts no header, so a client cannot name its own address.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Achievements API",
    "DESCRIPTION": (
        "Users (players), a multilingual catalog of achievements, the awards that link them, "
        "and stats.\n\n"
        "## Authentication\n\n"
        "Reads (GET, HEAD, OPTIONS) are public. Every write needs credentials, either:\n\n"
        "- **Token** (integrations): `Authorization: Token <key>`; "
        "`manage.py create_api_token NAME` prints one; or\n"
        "- **Session** (operators): the Django admin's session cookie, with the CSRF token in "
        "`X-CSRFToken`.\n\n"
        "No credentials on a write: 401 with `WWW-Authenticate: Token`; credentials without "
        "the permission: 403."
    ),
    # One group per resource in ReDoc and Swagger UI (core.schema.AutoSchema.get_tags), in this
    # order; resources still being built are named ahead of their operations.
    "TAGS": [
        {"name": "Users", "description": "The players who earn achievements."},
        {"name": "Achievements", "description": "The multilingual catalog."},
        {"name": "Awards", "description": "Grant, list and revoke a user's achievements."},
        {"name": "Progress", "description": "How far a user is towards each achievement."},
        {"name": "Events", "description": "What players do, which rules turn into awards."},
        {"name": "Activity", "description": "The feed of grants and revocations."},
        {"name": "Webhooks", "description": "Push notifications of changes."},
        {"name": "Stats", "description": "Leaders, gaps, streaks, leaderboards and rarity."},
    ],
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and ReDoc assets come from drf-spectacular-sidecar: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge from validator.swagger.io: the docs ask no other host for anything.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The activity types and a webhook's event filter are one set of names.
    "ENUM_NAME_OVERRIDES": {"ActivityTypeEnum": "achievements.models.Activity.TYPES"},
}

# Webhooks. Plain http and private addresses are refused unless allowed (SSRF protection).
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# Seconds an attempt may wait to connect and for each read before it counts as failed.
WEBHOOK_TIMEOUT = env.float("WEBHOOK_TIMEOUT", default=10.0)
# Background tasks (webhook deliveries) are rows in the application's database, claimed by
# `manage.py worker` with SELECT ... FOR UPDATE SKIP LOCKED. Another Tasks backend can take its
# place (README, "Scaling").
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["default", "webhooks"],
    }
}
# The worker: delivery tasks run at once per process, deliveries per task (one endpoint's),
# attempts at once within a task, idle poll, heartbeat.
WORKER_THREADS = env.int("WORKER_THREADS", default=8)
WORKER_BATCH = env.int("WORKER_BATCH", default=64)
WEBHOOK_CONNECTIONS = env.int("WEBHOOK_CONNECTIONS", default=4)
WORKER_POLL_SECONDS = env.float("WORKER_POLL_SECONDS", default=0.5)
WORKER_HEARTBEAT_SECONDS = env.int("WORKER_HEARTBEAT_SECONDS", default=5)

# /metrics answers clients from these addresses or networks (comma-separated), or any client
# sending `Authorization: Bearer <METRICS_TOKEN>` when a token is set.
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Under gunicorn, a folder where every worker's metrics meet (see gunicorn.conf.py). It must
# exist before prometheus_client writes to it, in manage.py commands too.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

# Errors go to Sentry only when a DSN is set; without one the SDK is never started (no network).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration()],
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        # Errors only: no performance tracing, and no user data (usernames, addresses).
        traces_sample_rate=0.0,
        send_default_pii=False,
    )

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {
        "text": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "text",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django logs every 4xx as a warning; keep those for debugging only.
        "django.request": {"level": "ERROR"},
        "django.db.backends": {"level": "INFO"},
        # django-axes announces itself at INFO in every process; its lockouts are WARNINGs.
        "axes.apps": {"level": "WARNING"},
    },
}
