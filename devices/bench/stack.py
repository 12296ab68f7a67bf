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
from psycopg import sql

from devices.broker_auth import mosquitto_binary
from virtualward.embedded import url_reachable

BASE_DIR = Path(__file__).resolve().parents[2]


class BenchSetupError(RuntimeError):
    """The bench cannot run here; the message says what to fix."""


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str
    mqtt_url: str  # empty: the bench runs its own broker (devices/bench/broker.py)
    fleet_mqtt_url: str = ""  # what the fleet and the baseline connect to, when it differs

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


def forget_mqtt_session(mqtt_url: str, client_id: str) -> None:
    """End the ingest's persistent session, so the broker stops queueing for a finished run."""
    parts = urlsplit(mqtt_url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    with contextlib.suppress(OSError):
        client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=10)
        client.loop(timeout=1.0)
        client.disconnect()


@dataclass
class Stack:
    """The platform's own processes, started by the bench and stopped by their pids."""

    services: Services
    log_dir: Path
    ingest_args: list[str] = field(default_factory=list)
    worker_concurrency: int = 2
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def ingest_client_id(self) -> str:
        return "vw-bench-ingest"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.services.database_url,
            REDIS_URL=self.services.redis_url,
            MQTT_URL=self.services.mqtt_url,
            # Channel-layer pub/sub and the ingest's shared subscription are broker- and
            # server-wide: private names keep other runs on this machine out of the figures.
            VW_CHANNELS_PREFIX=env.get("VW_CHANNELS_PREFIX", "bench"),
            MQTT_CLIENT_ID=self.ingest_client_id,
            MQTT_SHARE_GROUP="vw-bench",
            DJANGO_DEBUG="false",  # DEBUG keeps every query in memory
            VW_LOG_LEVEL=env.get("VW_LOG_LEVEL", "WARNING"),
            PYTHONUNBUFFERED="1",
        )
        return env

    def commands(self) -> dict[str, list[str]]:
        python = sys.executable
        return {
            "ingest": [python, "manage.py", "ingest", *self.ingest_args],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "virtualward",
                "worker",
                "--loglevel",
                "WARNING",
                "--concurrency",
                str(self.worker_concurrency),
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                "bench-worker@%h",
            ],
        }

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, command in self.commands().items():
            self.start_process(name, command)

    def start_process(self, name: str, command: list[str]) -> subprocess.Popen:
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=BASE_DIR, env=self.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.processes[name] = process
        return process

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
        forget_mqtt_session(self.services.mqtt_url, self.ingest_client_id)
