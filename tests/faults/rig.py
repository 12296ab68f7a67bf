"""The fault suite's rig: a broker, ingest processes and a fleet of devices that a test can kill.

Everything here is the test's own: a Mosquitto process on a free port, run from the platform's
generated configuration with its own persistence directory; ``manage.py ingest`` processes on
the test database; and devices that deliver through the device outbox (``devices/outbox.py``)
over one connection with the development simulator account (the generated ACL lets it play
every device). Killing any of them touches nothing outside the test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import paho.mqtt.client as mqtt
import pytest
from django.conf import settings
from django.db import connection

from devices import broker_auth
from devices.models import ReceivedMessage
from devices.outbox import Outbox
from devices.protocol import ack_topic, obs_topic
from patients.models import Observation
from virtualward.embedded import free_port, wait_for_port

BASE_DIR = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI") == "true" or os.environ.get("VW_REQUIRE_SERVICES") == "true"


def needs(missing: bool, reason: str) -> None:
    """Skip on a machine without what the scenario needs; in CI never skip: fail."""
    if missing and not IN_CI:
        pytest.skip(reason)
    assert not missing, f"CI must be able to run the fault suite: {reason}"


def shared_database_url() -> str | None:
    """A DATABASE_URL for the test database that a subprocess can open, or None (in memory)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.postgresql":
        auth = quote(db["USER"] or "") + (":" + quote(db["PASSWORD"]) if db.get("PASSWORD") else "")
        return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    name = str(db["NAME"])
    return None if "memory" in name else f"sqlite:///{name}"


class Broker:
    """Mosquitto from the platform's generated configuration, killed and restarted at will."""

    def __init__(self, directory: Path) -> None:
        binary = broker_auth.mosquitto_binary()
        assert binary is not None
        self.binary, self.port = binary, free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        self.conf = broker_auth.broker_config_write(directory, host="127.0.0.1", port=self.port)
        self.log = (directory / "mosquitto.log").open("ab")
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=self.log, stderr=self.log)
        wait_for_port("127.0.0.1", self.port, timeout=10)

    def kill(self) -> None:
        """kill -9: no chance to save its store."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()


class Ingest:
    """One `manage.py ingest` process on the test database and the test's broker."""

    def __init__(self, env: dict[str, str], client_id: str, share_group: str, log_dir: Path) -> None:
        self.env, self.client_id, self.share_group = env, client_id, share_group
        self.log_path = log_dir / f"{client_id}.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Ingest:
        command = [sys.executable, "manage.py", "ingest", "--client-id", self.client_id, "--batch-ms", "10",
                   "--share-group", self.share_group]  # fmt: skip
        before = self.log().count("ingest ready")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while self.log().count("ingest ready") == before:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"ingest never became ready:\n{self.log()[-3000:]}")
            time.sleep(0.05)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@dataclass
class Sent:
    device_id: str
    readings: int
    published_at: float
    acked_at: float | None = None


@dataclass
class Fleet:
    """Devices publishing at a steady rate through their outbox; they resend until acked."""

    url: str
    username: str
    password: str
    device_ids: list[str]
    tag: str = field(default_factory=lambda: f"fault{uuid.uuid4().hex[:6]}")
    ack_timeout_s: float = 2.0
    max_backoff_s: float = 4.0

    def __post_init__(self) -> None:
        self.outbox = Outbox(ack_timeout_s=self.ack_timeout_s, max_backoff_s=self.max_backoff_s)
        self.sent: dict[str, Sent] = {}
        self.ready = threading.Event()
        self.stop_publishing = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"vw-fault-fleet-{self.tag}")
        self.client.username_pw_set(self.username, self.password)
        self.client.reconnect_delay_set(0.2, 1)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = lambda *args: self.ready.clear()
        self.client.on_message = self._on_message
        host, port = self.url.removeprefix("mqtt://").split(":")
        self.client.connect_async(host, int(port), keepalive=10)
        self.client.loop_start()
        assert self.ready.wait(10), "the fleet could not subscribe to its ack topics"

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if not reason_code.is_failure:
            client.subscribe([(ack_topic(device_id), 1) for device_id in self.device_ids])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        # Acks first, on every connection: only then is anything (re)published.
        self.outbox.reconnected()
        self.ready.set()

    def _on_message(self, client, userdata, message) -> None:
        answer = self.outbox.on_ack(message.payload)
        if answer is not None and answer.msg_id in self.sent and self.sent[answer.msg_id].acked_at is None:
            self.sent[answer.msg_id].acked_at = time.monotonic()

    def publish(self, rate: float, seconds: float) -> threading.Thread:
        """Start publishing ``rate`` messages a second for ``seconds`` in a thread of its own."""
        thread = threading.Thread(target=self._publish, args=(rate, seconds), daemon=True)
        thread.start()
        return thread

    def _publish(self, rate: float, seconds: float) -> None:
        started = time.monotonic()
        for n in range(int(rate * seconds)):
            while time.monotonic() < started + n / rate:
                self._pump()
                time.sleep(0.002)
            device_id = self.device_ids[n % len(self.device_ids)]
            msg_id = f"{self.tag}-{n}"
            at = datetime.now(UTC).isoformat()
            readings = [{"type": "heart_rate", "value": 60 + n % 40, "unit": "/min", "measured_at": at}]
            if n % 2:
                readings.append({"type": "spo2", "value": 95 + n % 5, "unit": "%", "measured_at": at})
            payload = json.dumps({"msg_id": msg_id, "observations": readings}).encode()
            self.sent[msg_id] = Sent(device_id, len(readings), time.monotonic())
            self.outbox.add(msg_id, obs_topic(device_id), payload)
            self._pump()

    def _pump(self) -> None:
        if self.ready.is_set():
            for item in self.outbox.take_due():
                self.client.publish(item.topic, item.payload, qos=1)

    def wait_settled(self, publisher: threading.Thread, timeout: float) -> None:
        """Keep resending until every message is acked (or the time is up)."""
        publisher.join()
        deadline = time.monotonic() + timeout
        while len(self.outbox) and time.monotonic() < deadline:
            self._pump()
            time.sleep(0.05)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def latencies(self) -> list[float]:
        return sorted(s.acked_at - s.published_at for s in self.sent.values() if s.acked_at is not None)


@dataclass(frozen=True)
class Tally:
    published: int
    lost: list[str]
    doubled: list[str]
    unacked: int

    def __str__(self) -> str:
        return (f"{self.published} published, {len(self.lost)} lost {self.lost[:5]}, "
                f"{len(self.doubled)} doubled {self.doubled[:5]}, {self.unacked} never acked")  # fmt: skip


def tally(fleet: Fleet, counts: Callable[[str, str], dict[str, int]] | None = None) -> Tally:
    """Every published msg_id against the database: stored once, each reading exactly once.

    ``counts(table, prefix)`` reads msg_id -> rows from the database ingest wrote to (by default
    the test database).
    """
    counts = counts or _test_database_counts
    prefix = f"{fleet.tag}-"
    stored = counts(ReceivedMessage._meta.db_table, prefix)
    readings = counts(Observation._meta.db_table, prefix)
    lost = sorted(m for m, s in fleet.sent.items() if not stored.get(m) or readings.get(m, 0) < s.readings)
    doubled = sorted(m for m, s in fleet.sent.items() if stored.get(m, 0) > 1 or readings.get(m, 0) > s.readings)
    unacked = sum(1 for s in fleet.sent.values() if s.acked_at is None)
    return Tally(len(fleet.sent), lost, doubled, unacked)


def _test_database_counts(table: str, prefix: str) -> dict[str, int]:
    connection.close()  # a fresh look, not a connection left over from before a restart
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT msg_id, count(*) FROM {table} WHERE msg_id LIKE %s GROUP BY msg_id", [prefix + "%"])
        return dict(cursor.fetchall())


def ingest_env(database_url: str, broker: Broker, account: broker_auth.MqttAccount, session_expiry_s: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "VW_TEST_DB_NAME"}
    env.update(
        DATABASE_URL=database_url,
        MQTT_URL=broker.url,
        MQTT_USERNAME=account.username,
        MQTT_PASSWORD=account.password,
        MQTT_SESSION_EXPIRY_S=str(session_expiry_s),
        PYTHONUNBUFFERED="1",
        VW_LOG_LEVEL="INFO",
    )
    return env
