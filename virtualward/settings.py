"""Settings for the virtual ward platform: one module, read from the environment.

Without any environment the platform runs on embedded defaults (SQLite, in-process channel
layer and task queue); ``make run`` starts an embedded MQTT broker and Redis-compatible server
for its processes to share. Point ``DATABASE_URL``, ``REDIS_URL`` and ``MQTT_URL`` at real
services to use them. Production values are documented in the README.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import csp.constants as csp
import dj_database_url

from virtualward.env import ImproperlyConfiguredEnv, env_bool, env_cidrs, env_int, env_list, env_secret, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VW_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
# A fixed development key keeps a fresh clone runnable; `manage.py check --deploy` refuses it,
# so production must set DJANGO_SECRET_KEY.
DEV_SECRET_KEY = "django-insecure-virtualward-development-only-never-in-production"
SECRET_KEY = env_secret("DJANGO_SECRET_KEY") or DEV_SECRET_KEY
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "csp",
    "virtualward",
    "accounts",
    "patients",
    "devices",
    "scoring",
    "alerts",
    "rota",
    "benchmarks",
    "careplan",
    "checkins",
    "ukcore",
    "history",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "virtualward.http_headers.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "virtualward.urls"
WSGI_APPLICATION = "virtualward.wsgi.application"
ASGI_APPLICATION = "virtualward.asgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "virtualward.sqlite3",
            # Several processes (web, ingest, worker, beat) share the file under `make run`:
            # WAL lets readers carry on during a write, IMMEDIATE avoids upgrade deadlocks.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
        }
    }
# Lets concurrent test runs against one PostgreSQL server use separate test databases.
if env_str("VW_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": env_str("VW_TEST_DB_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, channel layer, Celery ------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("VW_CHANNELS_PREFIX", "vw")},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
# Keep a worker's database connection from task to task. Celery's Django fix-up closes it
# around every task unless this is set (then only every this many tasks); a fresh PostgreSQL
# connection cost a prompt rescore about a fifth of its time, and so an alert its delay.
# Age (CONN_MAX_AGE) and health are checked around each task instead (virtualward/celery.py).
CELERY_DB_REUSE_MAX = 1000
CELERY_TIMEZONE = "UTC"
# Two queues, each with its own worker (runplatform, docker-compose.yml): prompt rescoring on
# VW_PROMPT_QUEUE, so an abnormal reading's alert never waits behind routine rescoring, sweeps
# and reports, which all stay on this default queue.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# The connectivity sweep's beat (devices.sweep): seconds between sweeps.
VW_SWEEP_SECONDS = env_int("VW_SWEEP_SECONDS", 2)
CELERY_BEAT_SCHEDULE = {
    # Every 2 s, so a mass dropout surfaces within 10 s of its deadline even on a loaded machine
    # (docs/benchmarks.md, "Mass dropout"); an idle sweep is one indexed query. A sweep still
    # waiting when the next is due is dropped (expires): sweeps never pile up behind a slow one.
    "connectivity-sweep": {
        "task": "devices.tasks.sweep_connectivity",
        "schedule": float(VW_SWEEP_SECONDS),
        "options": {"expires": float(VW_SWEEP_SECONDS)},
    },
    "overdue-observations-sweep": {
        "task": "alerts.tasks.sweep_overdue_observations",
        "schedule": 60.0,
    },
    "not-spot-kit-tasks": {
        "task": "devices.tasks.flag_dropping_kit",
        "schedule": 3600.0,
    },
    "clinical-reviews-sweep": {
        "task": "alerts.tasks.sweep_clinical_reviews",
        "schedule": 60.0,
    },
    "escalation-ladder-sweep": {
        "task": "rota.tasks.sweep_ladders",
        "schedule": float(env_int("VW_LADDER_SWEEP_SECONDS", 10)),
    },
    # Agreed parameters past their review date (docs/care-plan.md).
    "agreed-reviews-sweep": {
        "task": "careplan.tasks.sweep_agreed_reviews",
        "schedule": 3600.0,
    },
    # Daily check-ins not answered in time (docs/care-plan.md#check-ins).
    "checkins-overdue-sweep": {
        "task": "checkins.tasks.sweep_overdue_checkins",
        "schedule": 300.0,
    },
    # Hourly, idempotent: makes any missing daily return of the last week (docs/stay.md).
    "daily-returns": {
        "task": "patients.tasks.make_daily_returns",
        "schedule": 3600.0,
        "options": {"expires": 3600.0},
    },
}
# The daily patient-level return (docs/stay.md#the-daily-return): patients named by a keyed
# pseudonym (default) or by NHS number, where the receiving body is entitled to it.
VW_RETURN_IDENTIFIER = env_str("VW_RETURN_IDENTIFIER", "pseudonym")
VW_RETURN_PSEUDONYM_KEY = env_secret("VW_RETURN_PSEUDONYM_KEY")

# --- Notifications to staff (docs/alerting.md#notifications) --------------------------------
# Links in messages point here (the address staff open the dashboard at).
VW_BASE_URL = env_str("VW_BASE_URL", "http://127.0.0.1:8000")
# E-mail through Django's SMTP backend. Unset EMAIL_HOST: messages go to the process log
# (`make run` sets it to its embedded SMTP sink, listed at /notifications/).
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "virtual-ward@localhost")
# SMS through GOV.UK Notify (its official client). Unset key: SMS are recorded as not sent.
NOTIFY_API_KEY = env_str("NOTIFY_API_KEY")
NOTIFY_BASE_URL = env_str("NOTIFY_BASE_URL", "https://api.notifications.service.gov.uk")
NOTIFY_SMS_TEMPLATE_ID = env_str("NOTIFY_SMS_TEMPLATE_ID")
# Web push (VAPID, RFC 8292). Unset private key: push is recorded as not sent.
VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY")
VAPID_PUBLIC_KEY = env_str("VAPID_PUBLIC_KEY")
VAPID_SUBJECT = env_str("VAPID_SUBJECT", "mailto:virtual-ward@localhost")
VW_NOTIFY_RETRIES = env_int("VW_NOTIFY_RETRIES", 3)
VW_NOTIFY_RETRY_SECONDS = env_int("VW_NOTIFY_RETRY_SECONDS", 5)
VW_ACK_LINK_HOURS = env_int("VW_ACK_LINK_HOURS", 12)

# --- FHIR to other systems (docs/fhir.md#sending) -------------------------------------------
# Where the discharge summary (a FHIR document Bundle) is POSTed, e.g. the GP system's or shared
# care record's [base]/Bundle; empty: summaries are made and downloadable, not sent.
VW_FHIR_DISCHARGE_URL = env_str("VW_FHIR_DISCHARGE_URL")
# A FHIR server base to which newly scored observations are POSTed as transaction Bundles; empty: off.
VW_FHIR_OBSERVATIONS_URL = env_str("VW_FHIR_OBSERVATIONS_URL")
VW_FHIR_TOKEN = env_secret("VW_FHIR_TOKEN")  # sent as "Authorization: Bearer ..." when set
VW_FHIR_RETRIES = env_int("VW_FHIR_RETRIES", 4)
VW_FHIR_RETRY_SECONDS = env_int("VW_FHIR_RETRY_SECONDS", 30)  # doubled after each failed try
VW_FHIR_TIMEOUT_SECONDS = env_int("VW_FHIR_TIMEOUT_SECONDS", 15)
VW_FHIR_PUSH_MAX_RESOURCES = env_int("VW_FHIR_PUSH_MAX_RESOURCES", 200)  # per transaction Bundle

# --- MQTT -----------------------------------------------------------------------------------
# Empty means "not configured": `make run` then starts an embedded broker and sets it.
MQTT_URL = env_str("MQTT_URL")
MQTT_USERNAME = env_str("MQTT_USERNAME")
MQTT_PASSWORD = env_secret("MQTT_PASSWORD")
MQTT_CLIENT_ID = env_str("MQTT_CLIENT_ID", "vw-ingest")
# Shared subscription group: several ingest processes split the load, each message once.
MQTT_SHARE_GROUP = env_str("MQTT_SHARE_GROUP", "vw-ingest")
MQTT_BROKER_DIR = Path(env_str("VW_MQTT_DIR", str(VAR_DIR / "mosquitto")))
# Ingest (docs/ingest.md). "auto" tries MQTT 5 and falls back to 3.1.1 (the embedded broker).
MQTT_PROTOCOL = env_str("MQTT_PROTOCOL", "auto")
# How long the broker keeps an ingest process's session (and queues its share of the messages)
# while it is gone: long enough for a restart, short enough that a member that stays dead does
# not hold readings hostage; the devices resend what it took with it (docs/ingest.md).
MQTT_SESSION_EXPIRY_S = env_int("MQTT_SESSION_EXPIRY_S", 60)
MQTT_CA_FILE = env_str("MQTT_CA_FILE")
VW_INGEST_BATCH_SIZE = env_int("VW_INGEST_BATCH_SIZE", 500)
# A batch waits this long for more messages unless a lull flushes it first: under load, longer
# batches spread each transaction's fixed costs over more messages (docs/benchmarks.md).
VW_INGEST_BATCH_MS = env_int("VW_INGEST_BATCH_MS", 50)
# How long ingest's busy thread may hold the interpreter lock while the other waits for it
# (sys.setswitchinterval; Python's default is 5,000 µs). paho's network thread waits behind the
# batch worker's Python work: at 2,000 msg/s 1,000 µs halved publish → stored (docs/ingest.md).
VW_INGEST_SWITCH_INTERVAL_US = env_int("VW_INGEST_SWITCH_INTERVAL_US", 1000)

# --- Clinical settings ----------------------------------------------------------------------
# Seconds a continuous device may be late beyond its expected interval before it is offline.
VW_DEVICE_GRACE_SECONDS = env_int("VW_DEVICE_GRACE_SECONDS", 60)
VW_LOW_BATTERY_PERCENT = env_int("VW_LOW_BATTERY_PERCENT", 20)
# Per-parameter NEWS2 freshness overrides in minutes, e.g. "spo2=30,temperature=240";
# parsed and checked by scoring.services.freshness_windows (docs/alerting.md).
VW_FRESHNESS_MINUTES = env_str("VW_FRESHNESS_MINUTES")
# Extra wait before a prompt rescore task runs. 0 by default: a patient's "pending" mark already
# folds every reading that arrives while its task waits in the queue into that one task.
VW_RESCORE_DELAY_SECONDS = env_int("VW_RESCORE_DELAY_SECONDS", 0)
# The Celery queue of prompt rescoring (any reading that scores, any patient not at low risk);
# its own worker consumes it, so it never waits behind the default queue (docs/news2.md).
VW_PROMPT_QUEUE = env_str("VW_PROMPT_QUEUE", "vw.prompt")
# A ladder's rung and the message it sends are what a person waits for, as much as the alert:
# on the prompt queue too, never behind routine rescoring and reports (docs/alerting.md).
CELERY_TASK_ROUTES = {
    name: {"queue": VW_PROMPT_QUEUE}
    for name in ("rota.tasks.advance_ladder", "rota.tasks.advance_incident_ladder", "rota.tasks.send_notification")
}
# How long a routine rescore waits (a low-risk patient whose new readings all score 0): every
# reading meanwhile joins that one task, so such a patient costs one rescore per this period.
VW_ROUTINE_RESCORE_SECONDS = env_int("VW_ROUTINE_RESCORE_SECONDS", 30)
# A reading that arrives this long after it was measured is marked late.
VW_LATE_READING_SECONDS = env_int("VW_LATE_READING_SECONDS", 120)
VW_WARD_PHONE = env_str("VW_WARD_PHONE", "0300 123 4567")
VW_PAIRING_CODE_MINUTES = env_int("VW_PAIRING_CODE_MINUTES", 15)
# Patient check-ins (docs/care-plan.md): how long a personal link lasts, and the local hour by
# which the day's check-in is due before "check-in overdue" is raised.
VW_CHECKIN_LINK_DAYS = env_int("VW_CHECKIN_LINK_DAYS", 14)
VW_CHECKIN_DUE_HOUR = env_int("VW_CHECKIN_DUE_HOUR", 12)
# Pairing (docs/pairing.md): wrong codes allowed per IP / per code prefix in a 10-minute window,
# minutes before the waiting page offers help, and the broker address handed to devices.
VW_PAIRING_MAX_FAILURES = env_int("VW_PAIRING_MAX_FAILURES", 8)
VW_PAIRING_HELP_AFTER_S = env_int("VW_PAIRING_HELP_AFTER_S", 180)
# One code pairs a whole kit: up to this many devices, within the code's lifetime (docs/pairing.md).
VW_PAIRING_KIT_MAX = env_int("VW_PAIRING_KIT_MAX", 4)
# An open websocket re-checks its user's session, role and wards at least this often, besides at
# once on log-out and on a role or ward change (docs/security.md).
VW_SOCKET_RECHECK_SECONDS = env_int("VW_SOCKET_RECHECK_SECONDS", 30)
MQTT_PUBLIC_URL = env_str("MQTT_PUBLIC_URL") or MQTT_URL or "mqtt://127.0.0.1:1883"
# The OS user a broker started by the platform runs as (Mosquitto drops root to this user).
VW_MQTT_BROKER_USER = env_str("VW_MQTT_BROKER_USER")
VW_MQTT_TLS_CERTFILE = env_str("VW_MQTT_TLS_CERTFILE")
VW_MQTT_TLS_KEYFILE = env_str("VW_MQTT_TLS_KEYFILE")
# A listener for devices only, where the client id is always the username (0: none; see
# devices/broker_auth.py). The platform's processes keep MQTT_URL's listener.
VW_MQTT_DEVICE_PORT = env_int("VW_MQTT_DEVICE_PORT", 0)

# --- Scoring heals itself (docs/operations.md, "What heals itself") -------------------------
# Every setting of how a lost or failed rescore is recovered, in one place. Rescoring is
# idempotent (scoring.services: a patient's row lock, and no new score unless its inputs changed),
# so a task run twice costs time, never a wrong score or a second alert: each choice below
# prefers delivering a task again to losing it.
#
# The safety net: every VW_RESCORE_SWEEP_SECONDS Celery beat runs scoring.tasks.sweep_unscored,
# which sends the rescore of every patient whose score is behind a reading received more than
# VW_RESCORE_OVERDUE_SECONDS ago (a reading waiting routinely, more than that past the routine
# countdown), at most VW_RESCORE_SWEEP_BATCH patients a run, the longest waiting first.
VW_RESCORE_SWEEP_SECONDS = env_int("VW_RESCORE_SWEEP_SECONDS", 5)
VW_RESCORE_OVERDUE_SECONDS = env_int("VW_RESCORE_OVERDUE_SECONDS", 15)
VW_RESCORE_SWEEP_BATCH = env_int("VW_RESCORE_SWEEP_BATCH", 500)
# A rescore that meets a database error retries with exponential back-off (1, 2, 4 ... s, with
# full jitter so workers do not return together) capped at this, and never gives up: it outlasts
# any outage, resuming at most this long after the database is back.
VW_RESCORE_RETRY_MAX_SECONDS = env_int("VW_RESCORE_RETRY_MAX_SECONDS", 10)
# Late acks: a task's message is acknowledged only once it has run, so a worker killed mid-task
# leaves it on the broker to be delivered again, rather than lost.
CELERY_TASK_ACKS_LATE = True
# A pool process killed under a task (OOM killer, kill -9): requeue the task at once instead of
# recording it failed and acknowledging it. Safe because every task is idempotent; a task that
# kept killing its process would loop, but none of ours allocates without bound.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# A task that raises (after its retries, if any) is acknowledged, not redelivered: delivering it
# again would only fail again, every visibility timeout, for ever. Patients it was to score are
# found by the sweep. (Celery's default, stated because acks_late makes it a choice.)
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
# One message reserved per pool process. Under late acks every reserved message is unacked, and
# a killed worker strands all of them until the visibility timeout; with prompt rescores
# coalesced into one task at a time (scoring.services) prefetching more only made a task wait
# behind a busy process while its sibling was idle. Countdown tasks do not count against it.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis has no acknowledgements of its own: kombu keeps each delivered message in an "unacked"
# set and puts it back on its queue once it is older than the visibility timeout (default one
# hour: a killed worker's tasks waited that long). A worker holds a countdown task unacked until
# it runs, so the timeout must outlast the longest countdown (the routine one, or a retry's
# back-off) plus a task's run, or live tasks are delivered twice; 60 s covers a routine rescore
# of a large ward many times over. Workers look for such messages every 5 s (kombu scans every
# 10 x 10 s by default).
_LONGEST_COUNTDOWN = max(VW_ROUTINE_RESCORE_SECONDS, VW_RESCORE_DELAY_SECONDS, VW_RESCORE_RETRY_MAX_SECONDS)
VW_BROKER_VISIBILITY_SECONDS = env_int("VW_BROKER_VISIBILITY_SECONDS", _LONGEST_COUNTDOWN + 60)
if VW_BROKER_VISIBILITY_SECONDS <= _LONGEST_COUNTDOWN + 10:
    raise ImproperlyConfiguredEnv(
        f"VW_BROKER_VISIBILITY_SECONDS={VW_BROKER_VISIBILITY_SECONDS} must exceed the longest countdown "
        "(VW_ROUTINE_RESCORE_SECONDS, VW_RESCORE_DELAY_SECONDS, VW_RESCORE_RETRY_MAX_SECONDS) by more than 10 s, "
        "or tasks waiting for their countdown are delivered twice"
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": VW_BROKER_VISIBILITY_SECONDS,
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
}
# The persistence rule for continuous wearables (alerts.persistence, docs/alerting.md): a
# parameter newly scoring 3 on a continuous device waits this many seconds for its single-
# parameter alert unless a newer reading contradicts it. 0 (the default) switches it off; never
# applied to a HIGH total, to consciousness or to spot checks; at most 120 s.
VW_PERSISTENCE_SECONDS = env_int("VW_PERSISTENCE_SECONDS", 0)
if not 0 <= VW_PERSISTENCE_SECONDS <= 120:
    raise ImproperlyConfiguredEnv(
        f"VW_PERSISTENCE_SECONDS={VW_PERSISTENCE_SECONDS} must be 0 (off) to 120: a longer wait is not an artefact "
        "filter but a delay to an urgent response (hazard H-12)"
    )
VW_PERSISTENCE_SWEEP_SECONDS = env_int("VW_PERSISTENCE_SWEEP_SECONDS", 5)
CELERY_BEAT_SCHEDULE["persistence-holds-sweep"] = {
    "task": "alerts.tasks.sweep_persistence_holds",
    "schedule": float(VW_PERSISTENCE_SWEEP_SECONDS),
    "options": {"expires": float(VW_PERSISTENCE_SWEEP_SECONDS)},
}
CELERY_BEAT_SCHEDULE["rescore-sweep"] = {
    "task": "scoring.tasks.sweep_unscored",
    "schedule": float(VW_RESCORE_SWEEP_SECONDS),
    # Sweeps queued while no worker ran are dropped, not run one after another on its return.
    "options": {"expires": float(VW_RESCORE_SWEEP_SECONDS)},
}

# --- TLS on the wire, secrets from files (docs/security.md) --------------------------------
# Every secret may come from NAME_FILE (a Docker secret) instead of NAME: env_secret.
if DATABASE_URL and env_secret("DATABASE_PASSWORD"):
    DATABASES["default"]["PASSWORD"] = env_secret("DATABASE_PASSWORD")
# The private CA (`manage.py tls_certs`): signs device certificates at pairing and the CRL.
VW_TLS_CA_CERT_FILE = env_str("VW_TLS_CA_CERT_FILE")
VW_TLS_CA_KEY_FILE = env_str("VW_TLS_CA_KEY_FILE")
VW_TLS_DEVICE_CERT_DAYS = env_int("VW_TLS_DEVICE_CERT_DAYS", 825)
# The broker's TLS listener: the minimum version (1.3 is negotiated whenever both ends have it),
# and whether every client must present a certificate of the CA (mutual TLS; the certificate's
# common name becomes the MQTT username). Devices that cannot hold a certificate then use
# VW_MQTT_PASSWORD_PORT, a second TLS listener taking passwords (the weaker option).
VW_MQTT_TLS_VERSION = env_str("VW_MQTT_TLS_VERSION", "tlsv1.2")
VW_MQTT_REQUIRE_CERTIFICATE = env_bool("VW_MQTT_REQUIRE_CERTIFICATE", False)
VW_MQTT_PASSWORD_PORT = env_int("VW_MQTT_PASSWORD_PORT", 0)
# Plain MQTT for the platform's processes on the broker's own host, bound to 127.0.0.1 only.
VW_MQTT_LOOPBACK_PORT = env_int("VW_MQTT_LOOPBACK_PORT", 0)
# The platform's own clients over mqtts:// trust MQTT_CA_FILE and may present a certificate.
MQTT_CERT_FILE = env_str("MQTT_CERT_FILE")
MQTT_KEY_FILE = env_str("MQTT_KEY_FILE")

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "frontend.login_limits.SourceLimitBackend",
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
AXES_FAILURE_LIMIT = env_int("VW_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("VW_LOGIN_COOLOFF_MINUTES", 15))
# A clinician is locked out only from the source that failed (username and address together):
# a stranger elsewhere cannot lock them out. The address is virtualward/client_ip.py's, so a
# forged X-Forwarded-For cannot pick someone else's, and behind a proxy every user is not one.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "virtualward.client_ip.client_ip"
AXES_RESET_ON_SUCCESS = True
# Failed log-ins one source may make across all usernames (password spraying) before it must
# wait VW_LOGIN_SOURCE_COOLOFF_MINUTES: higher than the per-user limit, since a hospital's staff
# can share one address (frontend/login_limits.py).
VW_LOGIN_SOURCE_FAILURE_LIMIT = env_int("VW_LOGIN_SOURCE_FAILURE_LIMIT", 20)
VW_LOGIN_SOURCE_COOLOFF_MINUTES = env_int("VW_LOGIN_SOURCE_COOLOFF_MINUTES", 15)
# The lock-out page (frontend/login_limits.py) says how long and whom to call; set the service
# desk's own words and number per deployment.
AXES_LOCKOUT_CALLABLE = "frontend.login_limits.locked_out"
VW_SUPPORT_CONTACT = env_str("VW_SUPPORT_CONTACT", "your IT service desk")
VW_SUPPORT_PHONE = env_str("VW_SUPPORT_PHONE", "")
AXES_VERBOSE = False  # else every process logs "AXES: BEGIN" at start: eight lines of noise in `make run`

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_VERSIONING_CLASS": None,
    "DEFAULT_THROTTLE_RATES": {"pairing": env_str("VW_PAIRING_RATE", "10/min")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Virtual Ward API",
    "DESCRIPTION": "Remote monitoring for NHS virtual wards: wards, patients, devices, "
    "observations, NEWS2 early-warning scores and alerts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from our own static files: the API docs must work on a ward network with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # One name per shared choice set, so `spectacular --validate --fail-on-warn` stays clean.
    "ENUM_NAME_OVERRIDES": {
        "News2ParameterEnum": "scoring.news2.PARAMETERS",
        "SpO2ScaleEnum": "patients.models.SpO2Scale",
        "AnsweredByEnum": "checkins.models.AnsweredBy",
        "PhoneSourceEnum": "checkins.api.PhoneSource",
        "ReferralSourceEnum": "patients.models.ReferralSource",
        "NewReferralSourceEnum": "patients.stays.REFERRAL_CHOICES",
        "DischargeOutcomeEnum": "patients.models.DischargeOutcome",
        "NewDischargeOutcomeEnum": "patients.stays.OUTCOME_CHOICES",
    },
}

# --- Internationalisation, time -------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("VW_MANIFEST_STATIC", False)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production) ------------------------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG and SECRET_KEY != DEV_SECRET_KEY)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000 if SECURE_SSL_REDIRECT else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
# Proxies whose X-Forwarded-For is believed (CIDRs, comma-separated; none by default): the
# compose proxy's network in deployment. Anyone else's forwarded header is ignored.
VW_TRUSTED_PROXIES = env_cidrs("VW_TRUSTED_PROXIES")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_PROXY") else None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("VW_SESSION_SECONDS", 12 * 60 * 60)  # one twelve-hour shift
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp): scripts, styles, images, fonts and websockets from this
# origin only; no inline script or style, no plugins, no framing, forms post only here. The
# pages keep every script and style in static files for this (docs/security.md).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF],
        "style-src": [csp.SELF],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.NONE],
        "frame-ancestors": [csp.NONE],
        "form-action": [csp.SELF],
    },
}

# --- Audit trail and API limits (docs/security.md, docs/api.md) -------------------------------
# Django admin pages audit the patients they show (accounts.audit_hooks); API, pages and sockets
# audit through their own adapters. VW_DB_OWNER_ROLE and VW_DB_APP_ROLE name the two database
# roles `manage.py db_roles` makes (defaults vw_owner, vw_app).
MIDDLEWARE += ["accounts.audit_hooks.AdminReadAuditMiddleware"]
# API lists: 100 items a page by default, at most 500; a bad limit or offset is a 400 (docs/api.md).
REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"] = "virtualward.pagination.BoundedLimitOffsetPagination"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("VW_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Years of readings: time partitions and retention (docs/history.md) ----------------------
# Monthly partitions of observations and rejections are created this many months ahead.
VW_PARTITION_MONTHS_AHEAD = env_int("VW_PARTITION_MONTHS_AHEAD", 3)
# Idempotency receipts are kept this long: past the protocol's 7-day back window a resent
# message's readings are refused as too old, so an older receipt can no longer prevent a copy.
VW_RECEIPT_RETENTION_DAYS = env_int("VW_RECEIPT_RETENTION_DAYS", 30)
if VW_RECEIPT_RETENTION_DAYS < 8:
    raise ImproperlyConfiguredEnv("VW_RECEIPT_RETENTION_DAYS must be at least 8 (the 7-day back window and a day)")
# Raw continuous readings that fed nothing may be summarised per minute after this many days
# (0: never; every reading is then kept for the life of the record).
VW_RAW_CONTINUOUS_DAYS = env_int("VW_RAW_CONTINUOUS_DAYS", 0)
if 0 < VW_RAW_CONTINUOUS_DAYS < 8:
    raise ImproperlyConfiguredEnv("VW_RAW_CONTINUOUS_DAYS must be 0 (never) or at least 8 (past the 7-day back window)")
# Scoring reads each parameter's newest reading of at most this many days (older: missing).
VW_SCORING_LOOKBACK_DAYS = env_int("VW_SCORING_LOOKBACK_DAYS", 30)
# Where archived partitions are written (`manage.py history archive`).
VW_ARCHIVE_DIR = Path(env_str("VW_ARCHIVE_DIR", str(VAR_DIR / "archive")))
CELERY_BEAT_SCHEDULE["history-partitions-ahead"] = {
    "task": "history.tasks.create_partitions_ahead",
    "schedule": 6 * 3600.0,
}
CELERY_BEAT_SCHEDULE["history-summarise-raw"] = {
    "task": "history.tasks.summarise_raw_readings",
    "schedule": 24 * 3600.0,
}
CELERY_BEAT_SCHEDULE["history-receipt-retention"] = {
    "task": "history.tasks.apply_receipt_retention",
    "schedule": 3600.0,
}
