"""Django settings, read from the environment; the defaults are the embedded single-machine setup."""

from __future__ import annotations

import os
from pathlib import Path

import csp.constants as csp
import dj_database_url
import django_stubs_ext

from ops.logs import build_logging
from vibeapp import env

# Lets Django's generic classes be subscripted for the type checker (ModelAdmin[Portal]); adds nothing else.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded default (SQLite file, generated local secrets); git-ignored.
VAR_DIR = Path(env.read_str("VIBE_VAR_DIR") or BASE_DIR / "var")

# "production" refuses to start on generated secrets; anything else is a developer machine.
VIBE_ENVIRONMENT = env.read_str("VIBE_ENVIRONMENT", "development")
IS_PRODUCTION = VIBE_ENVIRONMENT == "production"
# Off unless asked for: a debug page prints settings and request headers. `make run` (runstack) asks for it.
DEBUG = env.read_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = env.read_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if IS_PRODUCTION:
        raise RuntimeError("DJANGO_SECRET_KEY must be set when VIBE_ENVIRONMENT=production")
    SECRET_KEY = env.ensure_local_secret(VAR_DIR / "django_secret_key", env.make_django_secret)

ALLOWED_HOSTS = env.read_list("DJANGO_ALLOWED_HOSTS") or (
    [] if IS_PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"]
)
CSRF_TRUSTED_ORIGINS = env.read_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "admin_auto_filters",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    # Before django_q: its `qcluster` command is replaced by vibeapp's guarded one (vibeapp/qcluster.py).
    "vibeapp",
    "django_q",
    "tenants",
    "botcore",
    "ops",
]
# The local platform is the `sandbox` extra (pip install -e ".[sandbox]", which `make run` and `make test`
# use): an app on developer machines and in tests where it is installed, never in production.
VIBE_SANDBOX_INSTALLED = not IS_PRODUCTION and env.is_importable("sandbox", "starlette", "uvicorn", "jinja2")
if VIBE_SANDBOX_INSTALLED:
    INSTALLED_APPS.append("sandbox")

MIDDLEWARE = [
    "ops.middleware.RequestLogContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Static files (the admin's too) from the app process itself, with far-future caching of hashed names.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "tenants.locale.ViewerLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "vibeapp.urls"
WSGI_APPLICATION = "vibeapp.wsgi.application"
ASGI_APPLICATION = "vibeapp.asgi.application"

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

# --- Database -------------------------------------------------------------------------------------
# SQLite by default. Several processes (web, qcluster, pacer) write to it, so: WAL journal, IMMEDIATE
# transactions (take the write lock up front instead of failing on upgrade), and a busy timeout.
DATABASE_URL = env.read_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(env.read_str("VIBE_SQLITE_PATH") or VAR_DIR / "db.sqlite3"),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                # journal_size_limit: SQLite reuses its WAL file and never shrinks it, so one large
                # transaction (a prune of 160,000 event log entries: 611 MB) kept its size on disk for as
                # long as the stack ran; past 32 MiB it is cut back each time the log starts afresh.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=33554432;"
                ),
            },
            # Kept open as PostgreSQL's are: django-q2 closes stale connections before every broker call
            # and task, so with 0 each poll cycle and each enqueue opened the file anew (~10% of the CPU).
            "CONN_MAX_AGE": 60,
            # A file (not :memory:) so that the real qcluster and pacer a test starts can share it; one per
            # test process, so that concurrent runs never share a database.
            "TEST": {
                "NAME": env.read_str("VIBE_SQLITE_TEST_PATH") or VAR_DIR / f"test-db-{os.getpid()}.sqlite3"
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, task queue ---------------------------------------------------------------------
REDIS_URL = env.read_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

Q_RETRY_SECONDS = env.read_int("VIBE_Q_RETRY", 120)
Q_CLUSTER = {
    "name": env.read_str("VIBE_Q_NAME", "vibeapp"),
    # Workers run only cycles with events (the poller does the empty polls and hands over what it read): a
    # message holds one for the skill's three platform calls (and its poll, before 2d0ca66), ~0.2 s at
    # +50 ms, and ~20 CPU-ms of it is work, so a worker mostly waits. 8 answered ~32 messages/s while two
    # cores could do ~70-90 (3,000 bots, 300 active: p95 28.6 s with 8, 2.98 s with 24, README); 24 make
    # the cores, not the workers, the limit. An idle worker is ~7 MiB of PSS, a busy one ~20-28.
    "workers": env.read_int("VIBE_Q_WORKERS", 24),
    "timeout": env.read_int("VIBE_Q_TIMEOUT", 90),
    # A task is handed out again after `retry` seconds without an ack; it must exceed `timeout`.
    "retry": Q_RETRY_SECONDS,
    "max_attempts": 1,
    "save_limit": 1000,
    "catch_up": False,
    "label": "Task queue",
    # Tasks fetched per broker poll: poll cycles are short and many, one at a time would cap throughput.
    "bulk": env.read_int("VIBE_Q_BULK", 20),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
    # django-q2's ORM broker, its per-task statements as plain SQL: ~0.8 CPU-ms less a task (orm_broker.py).
    Q_CLUSTER["broker_class"] = "vibeapp.orm_broker.PlainSqlORM"
    # Seconds between two reads of an empty ORM queue (a busy queue is read back to back): every read is a
    # query, so an idle engine paid ~2 % of a core for 0.05; 0.2 (django-q2's default) adds ~0.1 s on average
    # to a message's hand-over. The Redis broker blocks on its list instead and never polls.
    Q_CLUSTER["poll"] = env.read_float("VIBE_Q_POLL", 0.2)

# --- HTTP API -------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "vibeapp.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": ["vibeapp.api_rate.CallerRate"],
}
# Requests to the HTTP APIs per caller (an operator's account, a portal's person, else an address) and window
# (vibeapp/api_rate.py): past it 429 with Retry-After. "" turns the limit off. Behind a proxy, see
# TENANTS_CLIENT_IP_HEADER for how anonymous callers' addresses are read.
VIBE_API_RATE = env.read_str("VIBE_API_RATE", "600/m")
SPECTACULAR_SETTINGS = {
    "TITLE": "vibeapp API",
    "DESCRIPTION": (
        "The portal's skills (for its people, by their app session) and the operator API (staff, by token)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # drf-spectacular's own, from a module that also registers what it cannot guess (ops/schema.py): every way
    # a schema is built (/api/schema/, `check --deploy`, `manage.py spectacular`) loads it, nothing else does.
    "DEFAULT_GENERATOR_CLASS": "ops.schema.SchemaGenerator",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "ops.schema.document_operator_refusals",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PortalStatusEnum": "tenants.models.Portal.Status",
        "BotStatusEnum": "botcore.models.Bot.Status",
        "EventStatusEnum": "botcore.models.EventLogEntry.Status",
    },
}

# --- The platform ---------------------------------------------------------------------------------
# Where the VibeCode API lives; the embedded default points at the local sandbox.
VIBE_BASE_URL = env.read_str("VIBE_BASE_URL", "http://127.0.0.1:8100/v1")
VIBE_SANDBOX_PORT = env.read_int("VIBE_SANDBOX_PORT", 8100)
VIBE_GATEWAY_PORT = env.read_int("VIBE_GATEWAY_PORT", 8101)
VIBE_WEB_PORT = env.read_int("VIBE_WEB_PORT", 8000)

# --- Tenants: secrets at rest -------------------------------------------------------------------
# Fernet keys for session tokens and portal API keys, newest first; never derived from SECRET_KEY, so
# rotating one never touches the other. Production refuses to start without them; the embedded default
# creates a local key under var/ on first run.
TENANTS_FERNET_KEYS = env.read_list("VIBE_FERNET_KEYS")
if not TENANTS_FERNET_KEYS:
    if IS_PRODUCTION:
        raise RuntimeError("VIBE_FERNET_KEYS must be set when VIBE_ENVIRONMENT=production")
    TENANTS_FERNET_KEYS = [env.ensure_local_secret(VAR_DIR / "fernet_key", env.make_fernet_key)]
# The app's own key (vibe_app_…); the embedded default's runstack puts the sandbox demo app's key here.
VIBE_APP_KEY = env.read_str("VIBE_APP_KEY")
# The app's key before a rotation (docs/operators.md, Key rotation), set for the overlap only: each portal's
# bot registered under it is still polled and answered with it until the portal's bot under the new key is
# there, then drained and unregistered with it. A secret like VIBE_APP_KEY.
VIBE_APP_KEY_PREVIOUS = env.read_str("VIBE_APP_KEY_PREVIOUS")
# Warn a portal's admin this long before its last session token expires.
TENANTS_EXPIRY_WARNING_SECONDS = env.read_int("TENANTS_EXPIRY_WARNING_SECONDS", 3 * 3600)
# Tokens this close to expiry are not handed out for new work.
TENANTS_TOKEN_MIN_REMAINING_SECONDS = env.read_int("TENANTS_TOKEN_MIN_REMAINING_SECONDS", 60)
# A session whose end GET /v1/me does not say lives this long (the contract's 24 h, CONTRACT A §13);
# the first 401 from the platform corrects it by retiring the token.
TENANTS_DEFAULT_SESSION_SECONDS = env.read_int("TENANTS_DEFAULT_SESSION_SECONDS", 24 * 3600)
# An admin's role is asked of the platform again once its last confirmation is this old (tenants/roles.py).
TENANTS_ROLE_RECHECK_SECONDS = env.read_int("TENANTS_ROLE_RECHECK_SECONDS", 300)
# An uninstalled portal's data is kept this long, then purged.
TENANTS_RETENTION_DAYS = env.read_int("TENANTS_RETENTION_DAYS", 30)
# A portal's turn (tenants.services.portal_turn) is a lease that outlives whatever holds it: a task is
# killed at the queue's timeout, and `retry` (> timeout) is when the queue gives it to another worker.
TENANTS_PORTAL_TURN_SECONDS = Q_RETRY_SECONDS
# OAuth `state` lifetime.
TENANTS_OAUTH_STATE_MAX_AGE = env.read_int("TENANTS_OAUTH_STATE_MAX_AGE", 600)
# How tenants asks the platform who a token belongs to; tenants never imports botcore, so by dotted path.
TENANTS_IDENTITY_BACKEND = env.read_str(
    "TENANTS_IDENTITY_BACKEND", "botcore.vibe.identity.VibeIdentityBackend"
)
# Cards other apps add to the portal page, by dotted path (tenants never imports botcore itself).
TENANTS_PORTAL_SECTIONS = ["botcore.web.pages.portal_sections"]
# Where portal users are sent to open the app (the gateway in the embedded default).
VIBE_APP_PUBLIC_URL = env.read_str("VIBE_APP_PUBLIC_URL", "http://127.0.0.1:8101")

# The client's shared request budget per key (botcore/conf.py documents each); 0 turns it off.
VIBE_BUDGET_PER_SECOND = env.read_float("VIBE_BUDGET_PER_SECOND", 9.0)
VIBE_BUDGET_BACKEND = env.read_str("VIBE_BUDGET_BACKEND", "auto")
VIBE_BUDGET_MAX_WAIT = env.read_float("VIBE_BUDGET_MAX_WAIT", 30.0)
VIBE_BUDGET_BURST = env.read_int("VIBE_BUDGET_BURST", 1)
# Talking to the platform: timeouts (seconds), attempts per call where a retry is safe, the longest wait.
VIBE_CONNECT_TIMEOUT = env.read_float("VIBE_CONNECT_TIMEOUT", 5.0)
VIBE_READ_TIMEOUT = env.read_float("VIBE_READ_TIMEOUT", 30.0)
VIBE_MAX_ATTEMPTS = env.read_int("VIBE_MAX_ATTEMPTS", 4)
VIBE_RETRY_MAX_WAIT = env.read_float("VIBE_RETRY_MAX_WAIT", 30.0)
# A visit's identity check, its retries included (a person waits on the page, and a web worker with them).
VIBE_IDENTITY_CHECK_SECONDS = env.read_float("VIBE_IDENTITY_CHECK_SECONDS", 10.0)

# --- Bots and skills --------------------------------------------------------------------------------
# Enabled skills by dotted path (or the name of a "vibeapp.skills" entry point of an installed package,
# the built-ins' "help", "standup", "echo" among them); the order is routing priority: the first that
# matches handles an event (docs/skills.md).
BOTCORE_SKILLS = env.read_list("BOTCORE_SKILLS") or [
    "botcore.skills.builtin.help.HelpSkill",
    "botcore.skills.builtin.standup.StandupSkill",
    "botcore.skills.builtin.echo.EchoSkill",
]
# A missed schedule firing is still made this many minutes late (after a restart), never later.
BOTCORE_SCHEDULE_CATCH_UP_MINUTES = env.read_int("BOTCORE_SCHEDULE_CATCH_UP_MINUTES", 15)
# Poll cadence between a fast and a slow bound, the pacer's lease, and the backoff ceiling (seconds).
BOTCORE_POLL_FAST_SECONDS = env.read_float("BOTCORE_POLL_FAST_SECONDS", 1.0)
BOTCORE_POLL_SLOW_SECONDS = env.read_float("BOTCORE_POLL_SLOW_SECONDS", 15.0)
# lease > Q_CLUSTER timeout > a cycle's deadline, or two cycles could share a bot (checked at start-up).
BOTCORE_LEASE_SECONDS = env.read_float("BOTCORE_LEASE_SECONDS", 120.0)
BOTCORE_CYCLE_DEADLINE_SECONDS = env.read_float("BOTCORE_CYCLE_DEADLINE_SECONDS", 30.0)
BOTCORE_EARLY_POLL_FLOOR_SECONDS = env.read_float("BOTCORE_EARLY_POLL_FLOOR_SECONDS", 5.0)
BOTCORE_BACKOFF_MAX_SECONDS = env.read_float("BOTCORE_BACKOFF_MAX_SECONDS", 300.0)
BOTCORE_POLL_BUDGET_SHARE = env.read_float("BOTCORE_POLL_BUDGET_SHARE", 0.6)
# The poller's long-poll hold (0: never), and the watches it keeps open at once.
BOTCORE_LONG_POLL_SECONDS = env.read_float("BOTCORE_LONG_POLL_SECONDS", 25.0)
BOTCORE_POLLER_MAX_IN_FLIGHT = env.read_int("BOTCORE_POLLER_MAX_IN_FLIGHT", 10000)
# Leased cycles at once across all pacers (0: twice the qcluster's workers).
BOTCORE_MAX_CYCLES_IN_FLIGHT = env.read_int("BOTCORE_MAX_CYCLES_IN_FLIGHT", 0)
# Provisionings queued or running at once (each holds a worker while its calls wait for the key's slots),
# and how long a row's "its task is queued" stamp stands before that task is taken to be lost.
BOTCORE_PROVISIONING_CONCURRENCY = env.read_int("BOTCORE_PROVISIONING_CONCURRENCY", 4)
BOTCORE_TASK_STAMP_SECONDS = env.read_float("BOTCORE_TASK_STAMP_SECONDS", 600.0)
# Provisionings a portal's installs (and a session brought back to a bot awaiting one) ask for, per portal:
# each registers a bot and its commands on the app key every portal shares. Past it the bot waits for the
# window's end, and the minute sweep provisions it then.
BOTCORE_PORTAL_PROVISIONING_RATE = env.read_str("BOTCORE_PORTAL_PROVISIONING_RATE", "5/h")
BOTCORE_EVENT_LOG_RETENTION_DAYS = env.read_int("BOTCORE_EVENT_LOG_RETENTION_DAYS", 14)
# Days kept of finished skill runs, once-only action records (never fewer than the event log's and the
# runs' days), untouched conversation states, and django-q2's failed task rows; see botcore/retention.py.
BOTCORE_SKILL_RUN_RETENTION_DAYS = env.read_int("BOTCORE_SKILL_RUN_RETENTION_DAYS", 30)
BOTCORE_ACTION_RECORD_RETENTION_DAYS = env.read_int("BOTCORE_ACTION_RECORD_RETENTION_DAYS", 30)
BOTCORE_CONVERSATION_STATE_RETENTION_DAYS = env.read_int("BOTCORE_CONVERSATION_STATE_RETENTION_DAYS", 90)
BOTCORE_FAILED_TASK_RETENTION_DAYS = env.read_int("BOTCORE_FAILED_TASK_RETENTION_DAYS", 14)
# Hosts skills may call although they are on a private network or this host
# (botcore/skills/outside_addresses.py): none unless named, so a portal's admin cannot point a skill at the
# vendor's own services.
BOTCORE_OUTSIDE_HOSTS_ALLOWED = env.read_list("BOTCORE_OUTSIDE_HOSTS_ALLOWED")
# Ports besides 80 and 443 skills may call (a service of the operator's on 8443, say); none unless named, so
# a skill is no port scanner of the vendor's hosts or anyone else's.
BOTCORE_OUTSIDE_PORTS_ALLOWED = env.read_int_list("BOTCORE_OUTSIDE_PORTS_ALLOWED")

# --- Operations: heartbeats, readiness --------------------------------------------------------------
OPS_HEARTBEAT_EVERY_SECONDS = env.read_float("OPS_HEARTBEAT_EVERY_SECONDS", 10.0)
# A kind is down when its newest work is older than this (a qcluster's may be its one-minute schedule alone);
# a process that beats only with its work (the poller) is silent after it too. A qcluster's liveness beat
# holds for three beat intervals instead (ops.heartbeat.liveness_max_age).
OPS_HEARTBEAT_MAX_AGE_SECONDS = {
    "poller": env.read_int("OPS_POLLER_MAX_SILENCE_SECONDS", 60),
    "qcluster": env.read_int("OPS_QCLUSTER_MAX_SILENCE_SECONDS", 180),
}
# /readyz asks the platform at most this often (seconds); its answer in between is remembered.
OPS_PLATFORM_CHECK_EVERY_SECONDS = env.read_float("OPS_PLATFORM_CHECK_EVERY_SECONDS", 15.0)
# /readyz names metrics_dir when PROMETHEUS_MULTIPROC_DIR has less room than this (ops/health.py).
OPS_METRICS_DIR_MIN_FREE_BYTES = env.read_int("OPS_METRICS_DIR_MIN_FREE_BYTES", 4 * 1024 * 1024)
# /readyz names the database when an SQLite file's disk has less room than this: room for the WAL to grow to
# its 32 MiB limit and for the event log's next pages (ops/health.py).
OPS_DATABASE_DIR_MIN_FREE_BYTES = env.read_int("OPS_DATABASE_DIR_MIN_FREE_BYTES", 64 * 1024 * 1024)

# Days an operator API token lasts from its issue (create_operator --api-token; --expires-in-days overrides,
# 0 for a token that never expires).
OPS_API_TOKEN_DAYS = env.read_int("OPS_API_TOKEN_DAYS", 90)

# /metrics asks for `Authorization: Bearer <this>` when set (`check --deploy` warns in production without it).
OPS_METRICS_TOKEN = env.read_str("OPS_METRICS_TOKEN")

# --- i18n, static, security -----------------------------------------------------------------------
# English is the source language and the last fallback; each has a catalogue under locale/
# (docs/translating.md).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env.read_str("DJANGO_STATIC_ROOT") or VAR_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed copies made by collectstatic; plain storage where collectstatic never ran (tests,
    # runstack).
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if IS_PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Without collectstatic (development), whitenoise serves straight from the apps' static folders.
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
WHITENOISE_AUTOREFRESH = not IS_PRODUCTION

# Operators see every tenant: their passwords (create_operator, the admin's forms) are held to Django's four
# validators, 12 characters at least.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = IS_PRODUCTION
CSRF_COOKIE_SECURE = IS_PRODUCTION
# The portal pages live in the portal's Bitrix24 page, in a frame (tenants/framing.py): there the app's
# cookies are third-party, and a SameSite=Lax cookie is not sent, so a form posted in the frame would fail
# Django's CSRF check (a GET reopens without cookies: tenants.handshakes.grant_holding). Production's cookies
# are Secure, which SameSite=None requires; on plain http browsers refuse SameSite=None, so elsewhere it stays
# Lax (the sandbox frames the app from the same site, 127.0.0.1). CSRF still holds: the token must match the
# form's, and the Origin check stays. Partitioned (CHIPS) cookies would survive browsers that block
# third-party cookies, but Django 5.2 and Python 3.11's http.cookies cannot write the attribute.
SESSION_COOKIE_SAMESITE = "None" if IS_PRODUCTION else "Lax"
CSRF_COOKIE_SAMESITE = "None" if IS_PRODUCTION else "Lax"
# A portal viewer's form refused for its missing CSRF cookie says so on a page of the portal's (framed).
CSRF_FAILURE_VIEW = "tenants.views.csrf_failure"
# Production sits behind a TLS-terminating proxy that says so in X-Forwarded-Proto (deploy/).
if IS_PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.read_bool("DJANGO_SECURE_SSL_REDIRECT", default=IS_PRODUCTION)
# Probes and the metrics scraper speak plain HTTP to the process itself.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.read_int("DJANGO_SECURE_HSTS_SECONDS", 31_536_000 if IS_PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.read_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=IS_PRODUCTION)
SECURE_HSTS_PRELOAD = env.read_bool("DJANGO_SECURE_HSTS_PRELOAD", default=IS_PRODUCTION)

# No page may be framed (XFrameOptionsMiddleware) but those marked tenants.framing.frameable_by_portal: the
# portal's pages, which Bitrix24 shows in a frame of the portal's page (CONTRACT B §5.2). The policy's
# frame-ancestors says the same for every other page, from this one setting.
X_FRAME_OPTIONS = "DENY"
# Who may frame a portal page before its viewer is known (nobody signed in yet, a refused entry, the page
# after an uninstall): the Bitrix24 cloud zones, as Bitrix24's helpdesk lists them, and bitrix24.uk. A
# viewer's pages are framed only by the domain they entered through and their portal's own (tenants.framing):
# a zone would let any portal, an attacker's own, frame a signed-in admin's page.
TENANTS_FRAME_ZONES = [
    "bitrix24.com", "bitrix24.eu", "bitrix24.de", "bitrix24.es", "bitrix24.com.br", "bitrix24.fr",
    "bitrix24.it", "bitrix24.pl", "bitrix24.uk", "bitrix24.com.tr", "bitrix24.ru", "bitrix24.ua",
    "bitrix24.by", "bitrix24.kz", "bitrix24.in", "bitrix24.cn", "bitrix24.jp", "bitrix24.id", "bitrix24.vn",
]  # fmt: skip
TENANTS_FRAME_ANCESTORS = env.read_list("TENANTS_FRAME_ANCESTORS") or [
    f"https://*.{zone}" for zone in TENANTS_FRAME_ZONES
]
# Who may frame every portal page, whoever the viewer: in development the sandbox's own page, which plays
# every portal's Bitrix24 (its /portal page); nobody in production. Each source listed may frame any viewer's.
TENANTS_SHARED_FRAME_ANCESTORS = env.read_list("TENANTS_SHARED_FRAME_ANCESTORS") or (
    [f"http://127.0.0.1:{VIBE_SANDBOX_PORT}", f"http://localhost:{VIBE_SANDBOX_PORT}"]
    if VIBE_SANDBOX_INSTALLED
    else []
)
# The pages as they are (django-csp's CSPMiddleware): no script of their own, the admin's from its static
# files; styles inline (a <style> block in templates/base.html and style attributes), so 'unsafe-inline' for
# styles only; the favicon a data: URL (templates/icon.html).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF, csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],
        "object-src": [csp.NONE],
        "base-uri": [csp.NONE],
        "form-action": [csp.SELF],
        "frame-ancestors": [{"DENY": csp.NONE, "SAMEORIGIN": csp.SELF}[X_FRAME_OPTIONS]],
    }
}

# /oauth/start/ per client address (django-ratelimit, over the shared cache). Behind a proxy, name the header
# it appends the client's address to (X-Forwarded-For) and list the proxy in TENANTS_TRUSTED_PROXIES, or every
# visitor shares the proxy's address.
TENANTS_OAUTH_START_RATE = env.read_str("TENANTS_OAUTH_START_RATE", "10/m")
# Gateway visits whose token the platform refused (each check costs a GET /v1/me on the app key), per client
# address; past it, such an address's new tokens are not checked until the window ends. Tokens that pass are
# never counted, so people opening the app behind one address (the platform's gateway) are not limited.
TENANTS_GATEWAY_VERIFY_RATE = env.read_str("TENANTS_GATEWAY_VERIFY_RATE", "60/m")
# Sign-ins through the gateway per person (portal and user), counted once signed in: each is a new browser
# session row, and a new token a GET /v1/me at a reply's priority on the app key every portal shares (a
# person's grant holds one token, so two valid ones sent by turns were each checked, and a token sent again
# without the cookie wrote a row each time); past it, 429 until the window ends. A browser keeping the app's
# cookie is never signed in again, nor counted.
TENANTS_GATEWAY_SIGN_IN_RATE = env.read_str("TENANTS_GATEWAY_SIGN_IN_RATE", "10/m")
# Personal keys the platform refused (each check costs a GET /v1/me), per portal, whoever typed them; past it
# the portal's next keys are not checked until the window ends.
TENANTS_API_KEY_REFUSED_RATE = env.read_str("TENANTS_API_KEY_REFUSED_RATE", "10/h")
# Personal keys saved on a portal's page, per portal: each moves the portal's bot (registered anew, the old
# one drained and deleted, on the app key every portal shares where the move is from or to a session); past it
# the portal's next keys are neither checked nor saved until the window ends. Removing a key is never limited.
TENANTS_API_KEY_SAVED_RATE = env.read_str("TENANTS_API_KEY_SAVED_RATE", "10/h")
# Saves of a portal page's settings that change them, per portal: a changed bot name or language is sent to
# the platform during the request (a save that changes nothing is not counted and sends nothing).
TENANTS_PORTAL_SETTINGS_SAVED_RATE = env.read_str("TENANTS_PORTAL_SETTINGS_SAVED_RATE", "30/h")
TENANTS_CLIENT_IP_HEADER = env.read_str("TENANTS_CLIENT_IP_HEADER")
# The proxies whose TENANTS_CLIENT_IP_HEADER is believed (addresses or CIDR networks): a request from anywhere
# else is counted by its socket's address, as a client could write the header itself. Loopback by default, a
# proxy on this machine (gunicorn's VIBE_FORWARDED_ALLOW_IPS default too); list a proxy elsewhere.
TENANTS_TRUSTED_PROXIES = env.read_list("TENANTS_TRUSTED_PROXIES") or ["127.0.0.0/8", "::1"]
RATELIMIT_IP_META_KEY = "tenants.client_address.find_client_address"
# Sign-in attempts (POSTs) at /admin/login/ per client address (ops/admin_sign_in.py).
OPS_ADMIN_LOGIN_RATE = env.read_str("OPS_ADMIN_LOGIN_RATE", "10/m")
# Wrong passwords per account name, from whatever address (ops/admin_sign_in.py): past it the account's
# sign-ins wait for the window's end, the right password's too (a guesser with many addresses otherwise
# guessed without end; the price is that one can keep an operator out for that long).
OPS_ADMIN_LOGIN_ACCOUNT_FAILURES = env.read_str("OPS_ADMIN_LOGIN_ACCOUNT_FAILURES", "30/h")
# How long an invitation to the OAuth redirect stays good (tenants/oauth.py).
TENANTS_OAUTH_INVITE_MAX_AGE = env.read_int("TENANTS_OAUTH_INVITE_MAX_AGE", 7 * 24 * 3600)

# Text for developers; VIBE_LOG_FORMAT=json for production (one JSON object a line, with portal, bot, event
# and request id where known); secrets redacted in both.
VIBE_LOG_FORMAT = env.read_str("VIBE_LOG_FORMAT", "text")
LOGGING = build_logging(fmt=VIBE_LOG_FORMAT, level=env.read_str("VIBE_LOG_LEVEL", "INFO"))
# The debug page and the error report a mail to ADMINS carries, with credentials redacted as in the logs.
DEFAULT_EXCEPTION_REPORTER = "ops.error_reports.RedactingExceptionReporter"
