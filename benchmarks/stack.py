"""The services the benchmark needs and the platform processes it runs against them.

The bench owns a database (created fresh, dropped after) and a Redis database (emptied at the
start) so its figures never include someone else's rows or queued tasks, and so it can never
damage data it does not own: it refuses a database whose name does not say "bench".
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import psycopg
import redis
from django.conf import settings
from psycopg import sql

from devices.broker_auth import mosquitto_binary, platform_mqtt_account
from devices.mqtt_tls import ClientTls, client_tls_configure
from virtualward.embedded import url_reachable

BASE_DIR = Path(__file__).resolve().parents[1]
SHARE_GROUP = "vw-bench"
# What `manage.py ingest` logs once its subscriptions are granted (devices/management/commands/ingest.py).
INGEST_READY = "ingest ready (client id {client_id})"


class BenchSetupError(RuntimeError):
    """The bench cannot run here; the message says what to fix."""


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str
    mqtt_url: str  # empty: the bench runs its own broker (benchmarks/broker.py)
    fleet_mqtt_url: str = ""  # what the fleet and the baseline connect to, when it differs
    # With --tls, the same broker's TLS listener, for the run's TLS ladder (benchmarks/tls.py).
    tls_mqtt_url: str = ""
    tls_fleet_mqtt_url: str = ""

    @property
    def fleet_url(self) -> str:
        return self.fleet_mqtt_url or self.mqtt_url


def check_services(services: Services) -> None:
    """Raise BenchSetupError naming every service that is missing or unreachable."""
    problems = []
    if urlsplit(services.database_url).scheme not in {"postgres", "postgresql"}:
        problems.append(f"DATABASE_URL={services.database_url!r} is not PostgreSQL (the bench needs COPY)")
    elif not url_reachable(services.database_url, 5432):
        problems.append(f"PostgreSQL unreachable at {services.database_url}")
    checks = [("REDIS_URL", services.redis_url, 6379)]
    if services.mqtt_url:
        checks.append(("BENCH_MQTT_URL", services.mqtt_url, 1883))
    elif mosquitto_binary() is None:
        problems.append("no mosquitto binary to run the bench's own broker (install mosquitto or set BENCH_MQTT_URL)")
    for name, url, port in checks:
        if not url:
            problems.append(f"{name} is not set")
        elif not url_reachable(url, port):
            problems.append(f"{name} unreachable at {url}")
    if problems:
        raise BenchSetupError("the bench needs real services: " + "; ".join(problems))


def bench_database_name(database_url: str) -> str:
    name = urlsplit(database_url).path.lstrip("/")
    if "bench" not in name:
        # Dropping and re-creating is only safe for a database that exists for the bench.
        raise BenchSetupError(f"refusing to drop and re-create database {name!r}: its name must contain 'bench'")
    return name


def _maintenance_url(database_url: str) -> str:
    return urlsplit(database_url)._replace(path="/postgres").geturl()


def recreate_database(database_url: str) -> None:
    name = bench_database_name(database_url)
    with psycopg.connect(_maintenance_url(database_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def drop_database(database_url: str) -> None:
    name = bench_database_name(database_url)
    with psycopg.connect(_maintenance_url(database_url), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def empty_redis(redis_url: str) -> None:
    # A rescore "pending" mark left by an earlier run would silence a patient with the same id.
    client = redis.Redis.from_url(redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def forget_mqtt_session(mqtt_url: str, client_id: str, username: str = "", password: str = "") -> None:
    """End an ingest's persistent session, so the broker stops queueing for a finished run.

    A clean-session connection under the same client id discards the session (MQTT 3.1.1
    and 5 alike); it needs the account the ingest used, since brokers refuse strangers.
    """
    parts = urlsplit(mqtt_url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    if username:
        client.username_pw_set(username, password)
    if parts.scheme == "mqtts":
        client_tls_configure(client, ClientTls.from_environ())
    with contextlib.suppress(OSError):
        client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=10)
        client.loop(timeout=1.0)
        client.disconnect()


def check_ingest_args(args: list[str]) -> None:
    """Refuse extra ingest arguments that would undo the deployed shape."""
    if any(arg.split("=")[0] in {"--client-id", "--share-group", "--no-share"} for arg in args):
        # N processes under one client id would take each other's session in turn, and
        # outside the one group each would receive every message.
        raise BenchSetupError("--ingest-args may not set --client-id, --share-group or --no-share: the bench does")


@dataclass(frozen=True)
class ProcessSpec:
    """One platform process: its name (and log file), its command line, what it adds to the environment."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)


def celery_worker(*, queue: str, hostname: str, concurrency: int, niceness: int = 0) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "virtualward",
        "worker",
        "--loglevel",
        "WARNING",
        "-Q",
        queue,
        "--hostname",
        hostname,
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "--without-gossip",
        "--without-mingle",
        "--niceness",
        str(niceness),
    ]


@dataclass
class Stack:
    """The platform's own processes, started by the bench and stopped by their pids.

    The deployed shape: N ingest processes in one shared-subscription group, each with its
    own client id (so its own broker session), and two Celery workers, one per queue, so
    prompt rescoring never waits behind routine rescoring and sweeps.
    """

    services: Services
    log_dir: Path
    ingest_args: list[str] = field(default_factory=list)
    ingest_processes: int = 2
    worker_concurrency: int = 2  # the prompt worker's; the default queue's worker has one
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.ingest_processes < 1:
            raise BenchSetupError(f"at least one ingest process is needed (got {self.ingest_processes})")
        check_ingest_args(self.ingest_args)

    @property
    def ingest_names(self) -> dict[str, str]:
        """Process (and log) name → MQTT client id, one per ingest process."""
        return {f"ingest-{n}": f"vw-bench-ingest-{n}" for n in range(1, self.ingest_processes + 1)}

    @property
    def ingest_client_ids(self) -> list[str]:
        return list(self.ingest_names.values())

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("MQTT_CLIENT_ID", None)  # set per ingest process
        env.update(
            DATABASE_URL=self.services.database_url,
            REDIS_URL=self.services.redis_url,
            MQTT_URL=self.services.mqtt_url,
            # Channel-layer pub/sub and the ingest's shared subscription are broker- and
            # server-wide: private names keep other runs on this machine out of the figures.
            VW_CHANNELS_PREFIX=env.get("VW_CHANNELS_PREFIX", "bench"),
            MQTT_SHARE_GROUP=SHARE_GROUP,
            DJANGO_DEBUG="false",  # DEBUG keeps every query in memory
            VW_LOG_LEVEL=env.get("VW_LOG_LEVEL", "WARNING"),
            PYTHONUNBUFFERED="1",
        )
        return env

    def specs(self) -> list[ProcessSpec]:
        ingest = [
            # INFO for ingest: it logs only its connection, readiness and a stats line a minute,
            # and the bench waits for every process's readiness line.
            ProcessSpec(
                name,
                [sys.executable, "manage.py", "ingest", *self.ingest_args],
                {"MQTT_CLIENT_ID": client_id, "VW_LOG_LEVEL": "INFO"},
            )
            for name, client_id in self.ingest_names.items()
        ]
        prompt_queue, default_queue = settings.VW_PROMPT_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE
        workers = [
            ProcessSpec(
                "worker-prompt",
                celery_worker(queue=prompt_queue, hostname="bench-prompt@%h", concurrency=self.worker_concurrency),
            ),
            # Niced as in `make run` and docker-compose: routine work yields to ingest and alerts.
            ProcessSpec(
                "worker", celery_worker(queue=default_queue, hostname="bench-default@%h", concurrency=1, niceness=10)
            ),
        ]
        return [*ingest, *workers]

    def describe(self) -> str:
        prompt_queue, default_queue = settings.VW_PROMPT_QUEUE, settings.CELERY_TASK_DEFAULT_QUEUE
        return (
            f"{self.ingest_processes} ingest process(es) in share group {SHARE_GROUP} "
            f"({', '.join(self.ingest_client_ids)}), Celery worker-prompt (-Q {prompt_queue}, "
            f"concurrency {self.worker_concurrency}) and worker (-Q {default_queue}, concurrency 1)"
        )

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.specs():
            self.start_process(spec.name, spec.command, spec.env)

    def start_process(self, name: str, command: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command,
            cwd=BASE_DIR,
            env={**self.environment(), **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        return process

    def wait_ready(self, timeout_s: float) -> None:
        """Wait until every ingest process is subscribed: one acked warm-up message proves only one."""
        deadline = time.monotonic() + timeout_s
        waiting = dict(self.ingest_names)
        while waiting:
            for name, client_id in list(waiting.items()):
                if INGEST_READY.format(client_id=client_id) in self.log_tail(name, lines=200):
                    del waiting[name]
            if dead := self.dead():
                raise BenchSetupError("a platform process died while starting: " + "; ".join(dead))
            if waiting and time.monotonic() > deadline:
                late = ", ".join(waiting)
                raise BenchSetupError(f"{late} not subscribed after {timeout_s:.0f} s; see {self.log_dir}")
            time.sleep(0.2)

    def dead(self) -> list[str]:
        return [
            f"{name} exited with {proc.returncode}" for name, proc in self.processes.items() if proc.poll() is not None
        ]

    def log_tail(self, name: str, lines: int = 15) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                # Each process leads its own session: its group holds only what it started.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.processes.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        account = platform_mqtt_account()
        for client_id in self.ingest_client_ids:
            forget_mqtt_session(self.services.mqtt_url, client_id, account.username, account.password)
