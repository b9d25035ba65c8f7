"""Django settings, read strictly from the environment (see .env.example for every variable).

With no environment at all this falls back to a SQLite file and kombu's filesystem broker:
that is what makes `make run` work on a machine with nothing else installed. Production sets
DATABASE_URL (PostgreSQL) and REDIS_URL.
"""

import datetime
import hashlib
import hmac
import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def envstr(name: str, default: str | None = None) -> str | None:
    """A string from NAME, or from the file named by NAME_FILE (for container secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        return Path(file_name).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("true", "1", "on"):
        return True
    if value.lower() in ("false", "0", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be one of true, false, 1, 0, on, off (got {value!r})")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number (got {value!r})") from None


def envfloat(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number (got {value!r})") from None


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


# Off unless the environment turns it on: `make run` sets DEBUG=true, production leaves it off.
DEBUG = envbool("DEBUG", False)

SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "development-only-key-never-used-with-debug-off"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
# Where people reach the site (links in emails). `make run PORT=8001` moves the default.
SITE_URL = envstr("SITE_URL", f"http://127.0.0.1:{envint('PORT', 8000)}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "axes",
    "orchestrator.apps.OrchestratorConfig",
    "runs.apps.RunsConfig",
    "notifications.apps.NotificationsConfig",
    "workitems.apps.WorkitemsConfig",
    "demo.apps.DemoConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# django-axes counts failed logins in the database and refuses further attempts for a while:
# per username (one account tried from many addresses) and, separately, per address (one
# address trying many usernames). The lockout page is the login page with a sentence.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=envint("LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "orchestrator.accounts.locked_out"
# How many proxies in front of the site append the client's address to X-Forwarded-For (one
# TLS proxy: 1). 0: the address is REMOTE_ADDR. Behind a proxy, 0 would count every client
# as the proxy's one address.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
AXES_CLIENT_IP_CALLABLE = "orchestrator.accounts.client_address"
# A failed attempt while locked out does not restart the cool-off: it ends when it said.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True

# Password reset emails, at most this many an hour per email address and per client address
# (orchestrator/accounts.py; counted in the cache).
PASSWORD_RESET_LIMIT_PER_EMAIL = envint("PASSWORD_RESET_LIMIT_PER_EMAIL", 3)
PASSWORD_RESET_LIMIT_PER_ADDRESS = envint("PASSWORD_RESET_LIMIT_PER_ADDRESS", 10)

# The Content-Security-Policy (django-csp): scripts, styles, images and fonts from the site
# itself only; no inline script or style (templates keep theirs in static/).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

ROOT_URLCONF = "orchestrator.urls"
WSGI_APPLICATION = "orchestrator.wsgi.application"

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
                "workitems.context_processors.open_work_items",
            ],
        },
    },
]

# The embedded default keeps its SQLite file in var/. IMMEDIATE transactions make concurrent
# writers (web, worker, beat) queue on the database lock instead of failing mid-transaction.
DATABASE_URL = envstr("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # The tests' database is a file too (pytest-django's default is in memory), so that a
    # worker process started by a test sees the same rows.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The engine's fast path on PostgreSQL (runs/engine/sql.py): off, it uses plain Django
# transactions and ORM writes, as it always does on SQLite.
ENGINE_FAST_PATH = envbool("ENGINE_FAST_PATH", True)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/inbox/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))

# Email: the console backend in development; SMTP when EMAIL_HOST is set.
EMAIL_HOST = envstr("EMAIL_HOST", "")
EMAIL_PORT = envint("EMAIL_PORT", 587)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Baton <baton@localhost>")
# Where django.core.mail.backends.filebased.EmailBackend writes (the tests' outbox).
EMAIL_FILE_PATH = envstr("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))
EMAIL_BACKEND = envstr(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)

# A connection to the mail server that does not answer gives up after this many seconds.
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", 30)
# The outbox (notifications/delivery.py): a message that could not be sent is tried again
# after NOTIFY_RETRY_BACKOFF_SECONDS, then twice as long each time (at most an hour), up to
# NOTIFY_MAX_ATTEMPTS attempts; a worker that took a message and gave no result within
# NOTIFY_SEND_TIMEOUT_SECONDS is taken to have died, and the sweeper sends it again.
NOTIFY_MAX_ATTEMPTS = envint("NOTIFY_MAX_ATTEMPTS", 8)
NOTIFY_RETRY_BACKOFF_SECONDS = envfloat("NOTIFY_RETRY_BACKOFF_SECONDS", 30.0)
NOTIFY_SEND_TIMEOUT_SECONDS = envint("NOTIFY_SEND_TIMEOUT_SECONDS", 300)

# The cache holds the password reset limits: Redis when there is one, so that every web
# process counts together; otherwise a folder in var/ (the embedded default, one machine).
REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "baton",
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Celery. With no REDIS_URL the broker is kombu's filesystem transport: no server needed.
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange bindings; kombu's default is ./control, wherever the process started.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # How often a worker looks for new messages (kombu's default is every second).
        "polling_interval": 0.1,
    }
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "engine"
# Engine work, actions and notifications have their own queues, so that slow HTTP calls in
# actions cannot starve the engine.
CELERY_TASK_ROUTES = {
    "runs.tasks.execute_step": {"queue": "actions"},
    "runs.tasks.sweep": {"queue": "engine"},
    "runs.tasks.*": {"queue": "engine"},
    "workitems.tasks.*": {"queue": "notifications"},
    "notifications.tasks.*": {"queue": "notifications"},
}
SWEEP_INTERVAL_SECONDS = envint("SWEEP_INTERVAL_SECONDS", 5)
CELERY_BEAT_SCHEDULE = {
    "sweep": {"task": "runs.tasks.sweep", "schedule": float(SWEEP_INTERVAL_SECONDS)},
    "send-reminders": {
        "task": "workitems.tasks.send_reminders",
        "schedule": 60.0,
    },
}
# Beat keeps its schedule in memory, not in a file: every entry repeats within a minute, so
# forgetting when each last ran costs nothing at a restart, and beat needs no writable folder
# (with DATABASE_URL and REDIS_URL, make run has no var/).
CELERY_BEAT_SCHEDULER = "celery.beat:Scheduler"

# The demo's fake payroll API (demo/urls.py) is served only with the demo enabled: by default
# with DEBUG (make run), never in production unless asked for.
DEMO_ENABLED = envbool("DEMO_ENABLED", DEBUG)
# The payroll endpoint the demo calls; production points it at the real payroll API. The
# token goes with every call as a Bearer header; the fake API refuses calls without it.
PAYROLL_API_URL = envstr("PAYROLL_API_URL", f"{SITE_URL}/demo/payroll/employees/")
# Unset, it is derived from SECRET_KEY, which web and worker share: make run works as it is.
PAYROLL_API_TOKEN = (
    envstr("PAYROLL_API_TOKEN")
    or hmac.new(SECRET_KEY.encode(), b"demo.payroll-api-token", hashlib.sha256).hexdigest()
)
if DEMO_ENABLED:
    # The worker calls the fake API over the internal network (docker compose: http://web:8000),
    # not through the https proxy.
    SECURE_REDIRECT_EXEMPT = [r"^demo/"]

# Modules that register a project's own actions with @register_action (see README).
ACTION_MODULES = envlist("ACTION_MODULES", ["demo.actions"])

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
# Celery logs every task at INFO as beat sends it, as a worker receives it and as it succeeds.
# With LOG_SCHEDULED_TASKS off (make run), the tasks beat sends every few seconds (the sweep,
# the reminders) log those lines at DEBUG, so that a terminal shows the steps' tasks, the
# sweeps that found work, the failures and the emails instead of a line every few seconds.
LOG_SCHEDULED_TASKS = envbool("LOG_SCHEDULED_TASKS", True)
if not LOG_SCHEDULED_TASKS:
    LOGGING["filters"] = {"scheduled_tasks": {"()": "orchestrator.logs.ScheduledTasksAtDebug"}}
    for _logger in ("celery.beat", "celery.worker.strategy", "celery.app.trace"):
        LOGGING["loggers"][_logger] = {"filters": ["scheduled_tasks"]}

if not DEBUG:
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Plain http is sent to https (a proxy that terminates TLS says so in X-Forwarded-Proto).
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    # Browsers keep to https for this long. Subdomains and the preload list reach beyond this
    # site and are hard to undo, so they are off unless the environment turns them on.
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
