"""The fault suite's rig: a broker, ingest processes and a fleet of devices that a test can kill.

Everything here is the test's own: a Mosquitto process on a free port, run from the platform's
generated configuration with its own persistence directory; ``manage.py ingest`` processes on
the test database; and devices that deliver through the device outbox (``devices/outbox.py``)
over one connection with the development simulator account (the generated ACL lets it play
every device). Killing any of them touches nothing outside the test.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import paho.mqtt.client as mqtt
from django.db import connection

from devices import broker_auth
from devices.models import ReceivedMessage
from devices.mqtt_tls import ClientTls, client_tls_configure
from devices.outbox import Outbox
from devices.protocol import ack_topic, obs_topic
from patients.models import Observation
from scoring.models import EarlyWarningScore
from tests.processes import LoggedProcess, child_env, manage
from virtualward.embedded import free_port, wait_for_port
from virtualward.env import mqtt_endpoint

# Rows of a query: ``fetch(sql, params)`` on whichever database ingest and the workers write to.
Fetch = Callable[[str, Sequence[Any]], list[tuple]]


class Broker:
    """Mosquitto from the platform's generated configuration, killed and restarted at will.

    With ``ca_file`` the configuration has a TLS listener (the settings' VW_MQTT_TLS_CERTFILE and
    KEYFILE): every client then verifies the broker against that CA, as in deployment.
    """

    def __init__(self, directory: Path, ca_file: str = "") -> None:
        binary = broker_auth.mosquitto_binary()
        assert binary is not None
        self.binary, self.port, self.ca_file = binary, free_port(), ca_file
        # "localhost" is a name on the broker's certificate (manage.py tls_certs).
        self.url = f"mqtts://localhost:{self.port}" if ca_file else f"mqtt://127.0.0.1:{self.port}"
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


class Ingest(LoggedProcess):
    """One `manage.py ingest` process on the test's database and broker; ready once started."""

    def __init__(self, env: dict[str, str], client_id: str, share_group: str, log_dir: Path) -> None:
        argv = manage("ingest", "--client-id", client_id, "--batch-ms", "10", "--share-group", share_group)
        super().__init__(argv, env=env, log_path=log_dir / f"{client_id}.log", name=client_id)

    def start(self) -> Self:
        super().start()
        self.wait_for_log("ingest ready", timeout=30)
        return self


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
    ca_file: str = ""
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
        host, port, tls = mqtt_endpoint(self.url)
        if tls:  # as a device must: the broker verified against the platform's CA, never plain text
            client_tls_configure(self.client, ClientTls(self.ca_file))
        self.client.connect_async(host, port, keepalive=10)
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
            # A pulse of 131-170 scores 3 (RCP NEWS2 chart): every patient stays above low risk, so
            # each reading is due its score promptly (a stable patient's normal readings are
            # folded into a routine rescore by design, docs/news2.md) and raises or keeps an alert.
            readings = [{"type": "heart_rate", "value": 131 + n % 40, "unit": "/min", "measured_at": at}]
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


def tally(fleet: Fleet, fetch: Fetch | None = None) -> Tally:
    """Every published msg_id against the database: stored once, each reading exactly once.

    ``fetch`` reads the database ingest wrote to (by default the test database).
    """
    fetch = fetch or test_database_fetch
    prefix = f"{fleet.tag}-"
    stored, readings = (
        dict(fetch(f"SELECT msg_id, count(*) FROM {table} WHERE msg_id LIKE %s GROUP BY msg_id", [prefix + "%"]))
        for table in (ReceivedMessage._meta.db_table, Observation._meta.db_table)
    )
    lost = sorted(m for m, s in fleet.sent.items() if not stored.get(m) or readings.get(m, 0) < s.readings)
    doubled = sorted(m for m, s in fleet.sent.items() if stored.get(m, 0) > 1 or readings.get(m, 0) > s.readings)
    unacked = sum(1 for s in fleet.sent.values() if s.acked_at is None)
    return Tally(len(fleet.sent), lost, doubled, unacked)


def test_database_fetch(sql: str, params: Sequence[Any]) -> list[tuple]:
    connection.close()  # a fresh look, not a connection left over from before a restart
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def ingest_env(database_url: str, broker: Broker, account: broker_auth.MqttAccount, **extra: str) -> dict:
    return child_env(
        DATABASE_URL=database_url,
        MQTT_URL=broker.url,
        MQTT_CA_FILE=broker.ca_file,
        MQTT_USERNAME=account.username,
        MQTT_PASSWORD=account.password,
        VW_LOG_LEVEL="INFO",
        **extra,
    )


@dataclass(frozen=True)
class ScoringWaits:
    """How long the fleet's pulse readings waited for a score that used them (or a newer pulse),
    counted from when each was stored or the failed part was back, whichever came later."""

    readings: int
    unscored: list[int]  # observation ids no score has used yet
    worst_s: float

    def __str__(self) -> str:
        return (
            f"{self.readings} readings, {len(self.unscored)} unscored {self.unscored[:5]}, worst {self.worst_s:.1f} s"
        )


def scoring_waits(fleet: Fleet, back_at: datetime, fetch: Fetch | None = None) -> ScoringWaits:
    fetch = fetch or test_database_fetch
    observations, scores = Observation._meta.db_table, EarlyWarningScore._meta.db_table
    prefix = [f"{fleet.tag}-%"]
    readings = fetch(
        f"SELECT patient_id, id, measured_at, received_at FROM {observations} "
        "WHERE msg_id LIKE %s AND type = 'heart_rate'",
        prefix,
    )
    measured = {obs_id: _when(at) for _, obs_id, at, _ in readings}
    used: dict[int, list[tuple[datetime, datetime]]] = {}  # patient -> (computed at, pulse measured at)
    for patient_id, computed_at, sub_scores in fetch(
        f"SELECT patient_id, computed_at, sub_scores FROM {scores} WHERE patient_id IN "
        f"(SELECT patient_id FROM {observations} WHERE msg_id LIKE %s)",
        prefix,
    ):
        pulse = (_json(sub_scores).get("heart_rate") or {}).get("observation_id")
        if pulse in measured:
            used.setdefault(patient_id, []).append((_when(computed_at), measured[pulse]))
    unscored, worst = [], 0.0
    for patient_id, obs_id, _, received_at in readings:
        scored = [at for at, pulse_at in used.get(patient_id, []) if pulse_at >= measured[obs_id]]
        if not scored:
            unscored.append(obs_id)
            continue
        worst = max(worst, (min(scored) - max(_when(received_at), back_at)).total_seconds())
    return ScoringWaits(len(readings), sorted(unscored), worst)


def await_scoring(fleet: Fleet, back_at: datetime, aim_s: float, fetch: Fetch | None = None) -> ScoringWaits:
    """Scoring waits once every reading is scored, or once the aim has passed for the last one."""
    deadline = time.monotonic() + aim_s + 2.0  # every reading is stored (and acked) by now
    while (waits := scoring_waits(fleet, back_at, fetch)).unscored and time.monotonic() < deadline:
        time.sleep(0.5)
    return waits


def _when(value: datetime | str) -> datetime:
    """A timestamp from PostgreSQL (aware) or SQLite (UTC text)."""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _json(value: dict | str | None) -> dict:
    return json.loads(value) if isinstance(value, str) else (value or {})
