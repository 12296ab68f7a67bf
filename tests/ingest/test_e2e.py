"""End to end: a device publishes over MQTT, `manage.py ingest` (a real process) stores and acks.

Every test runs twice: over plain MQTT to the shared broker (MQTT_URL, or the embedded one), and
over TLS to a Mosquitto of its own, configured by the platform's generator with certificates
from `manage.py tls_certs` (the deployment's shape: TLS and passwords; docs/security.md).

The ingest process must share the test database, so this needs PostgreSQL or a file-based
SQLite test database (VW_TEST_DB_NAME=/path/to/file); CI always runs on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from benchmarks.broker import BENCH_USERNAME, add_bench_account
from benchmarks.stack import forget_mqtt_session
from devices import broker_auth
from devices.models import ReceivedMessage
from devices.mqtt_tls import ClientTls, tls_context
from devices.protocol import ack_topic, obs_topic
from patients.models import Observation
from tests.factories import DeviceFactory
from tests.ingest.conftest import obs_json
from tests.processes import LoggedProcess, child_env, manage, needs, shared_database_url
from virtualward.embedded import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]

EMBEDDED_BROKER = not settings.MQTT_URL  # amqtt: MQTT 3.1.1 only, no $share, no session redelivery


@pytest.fixture
def database_url(db: None) -> str:
    url = shared_database_url()
    needs(url is None, "the ingest subprocess cannot share an in-memory SQLite test database")
    return url or ""


class Ingest(LoggedProcess):
    """`manage.py ingest` as a separate process, stopped by its own pid."""

    def __init__(
        self,
        *,
        mqtt_url: str,
        database_url: str,
        client_id: str,
        share_group: str,
        tmp: Path,
        env: dict[str, str] | None = None,
        embedded: bool = EMBEDDED_BROKER,
        crash_before_ack: bool = False,
    ) -> None:
        self.client_id = client_id
        share = ["--no-share"] if not share_group else ["--share-group", share_group]
        # As `make run` does on the embedded broker: amqtt speaks 3.1.1 only, and now and then
        # leaves the MQTT 5 probe unanswered for its whole 10 s timeout.
        protocol = ["--protocol", "3.1.1"] if embedded else []
        overrides = {"VW_INGEST_CRASH_BEFORE_ACK": "1"} if crash_before_ack else {}
        super().__init__(
            manage("ingest", "--client-id", client_id, "--batch-ms", "10", *share, *protocol),
            # the broker's TLS and account settings (env) when the test runs its own broker
            env=child_env(
                DATABASE_URL=database_url, MQTT_URL=mqtt_url, VW_LOG_LEVEL="INFO", MQTT_SESSION_EXPIRY_S="120"
            )
            | (env or {})
            | overrides,
            log_path=tmp / f"{client_id}-{uuid.uuid4().hex[:6]}.log",
            name=client_id,
        )

    def start(self) -> Ingest:
        super().start()
        self.wait_for_log("ingest ready", timeout=15)
        return self


class Launcher:
    def __init__(self, wire: Wire, database_url: str, tmp: Path) -> None:
        self.wire, self.database_url, self.tmp = wire, database_url, tmp
        self.started: list[Ingest] = []

    def __call__(self, client_id: str, group: str, *, crash_before_ack: bool = False) -> Ingest:
        ingest = Ingest(
            mqtt_url=self.wire.url,
            database_url=self.database_url,
            client_id=client_id,
            share_group=group,
            tmp=self.tmp,
            env=self.wire.ingest_env,
            embedded=self.wire.embedded,
            crash_before_ack=crash_before_ack,
        )
        self.started.append(ingest)
        return ingest.start()


@dataclass
class Wire:
    """How this run reaches the broker: the URL, and for TLS the device's and ingest's settings."""

    url: str
    embedded: bool = False  # amqtt: MQTT 3.1.1 only, no $share, no session redelivery
    own_broker: bool = False  # thrown away after the test: no sessions to forget
    device_tls: ssl.SSLContext | None = None
    device_account: tuple[str, str] | None = None
    ingest_env: dict[str, str] = field(default_factory=dict)


@pytest.fixture(params=["plain", "tls"])
def wire(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Wire]:
    if request.param == "plain":
        yield Wire(request.getfixturevalue("mqtt_url"), embedded=EMBEDDED_BROKER)
        return
    with _tls_broker(request.getfixturevalue("settings"), tmp_path) as tls_wire:
        yield tls_wire


@contextlib.contextmanager
def _tls_broker(test_settings: Any, tmp_path: Path) -> Iterator[Wire]:
    if broker_auth.mosquitto_binary() is None:
        needs(True, "mosquitto is not installed: the TLS run needs the real broker")
    certs = tmp_path / "tls"
    call_command("tls_certs", dir=certs, stdout=io.StringIO())
    test_settings.VAR_DIR, test_settings.MQTT_BROKER_DIR = tmp_path, tmp_path / "mosquitto"
    test_settings.MQTT_USERNAME = test_settings.MQTT_PASSWORD = ""
    test_settings.VW_MQTT_TLS_CERTFILE, test_settings.VW_MQTT_TLS_KEYFILE = (
        str(certs / "server.crt"),
        str(certs / "server.key"),
    )
    test_settings.VW_MQTT_REQUIRE_CERTIFICATE = False
    test_settings.VW_MQTT_PASSWORD_PORT = test_settings.VW_MQTT_LOOPBACK_PORT = 0
    accounts: list[str] = []
    port = free_port()
    with broker_auth.mosquitto_run(
        test_settings.MQTT_BROKER_DIR,
        host="127.0.0.1",
        port=port,
        prepare=lambda d: accounts.append(add_bench_account(d)),
    ):
        platform = broker_auth.platform_mqtt_account()
        ca = str(certs / "ca.crt")
        yield Wire(
            f"mqtts://localhost:{port}",
            own_broker=True,
            device_tls=tls_context(ClientTls(ca)),
            device_account=(BENCH_USERNAME, accounts[0]),
            ingest_env={"MQTT_CA_FILE": ca, "MQTT_USERNAME": platform.username, "MQTT_PASSWORD": platform.password},
        )


@pytest.fixture
def ingests(database_url: str, wire: Wire, tmp_path: Path) -> Iterator[Launcher]:
    launcher = Launcher(wire, database_url, tmp_path)
    yield launcher
    for ingest in launcher.started:
        ingest.stop()
    if wire.own_broker:
        return
    for client_id in {ingest.client_id for ingest in launcher.started}:
        forget_mqtt_session(wire.url, client_id)


class Device:
    """A device's MQTT client: publishes obs at QoS 1 and collects what arrives on its ack topic."""

    def __init__(self, wire: Wire, device_ids: list[str]) -> None:
        parts = urlsplit(wire.url)
        self.acks: dict[str, list[dict]] = {device_id: [] for device_id in device_ids}
        self.lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"test-device-{uuid.uuid4().hex[:8]}")
        if wire.device_tls is not None:
            self.client.tls_set_context(wire.device_tls)
        if wire.device_account is not None:
            self.client.username_pw_set(*wire.device_account)
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()
        self.client.subscribe([(ack_topic(device_id), 1) for device_id in device_ids])
        assert subscribed.wait(5), "the device could not subscribe to its ack topic"

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.acks[message.topic.split("/")[3]].append(json.loads(message.payload))

    def publish(self, device_id: str, body: bytes) -> None:
        self.client.publish(obs_topic(device_id), body, qos=1).wait_for_publish(5)

    def answers(self, device_id: str) -> list[dict]:
        """Acks giving an outcome; "not registered" errors come from other test runs' ingests."""
        with self.lock:
            return [ack for ack in self.acks[device_id] if "error" not in ack]

    def wait_for_ack(self, device_id: str, msg_id: str, timeout: float = 10) -> dict:
        # Other ingest processes on a shared broker may answer too (for example "not
        # registered" from another test database), so wait for the answer naming our outcome.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for ack in self.acks[device_id]:
                    if ack["msg_id"] == msg_id and "error" not in ack:
                        return ack
            time.sleep(0.05)
        raise AssertionError(f"no ack for {msg_id} within {timeout}s; got {self.acks[device_id]}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def reading(value: int = 88) -> dict:
    return {"type": "heart_rate", "value": value, "unit": "/min", "measured_at": datetime.now(UTC).isoformat()}


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
    connection.close()


def totals_on_exit(log: str) -> tuple[int, int]:
    """(accepted observations, duplicates) from the line ingest logs when it stops."""
    pattern = r"ingest stopped: \d+ messages \((\d+) accepted observations, \d+ rejected, (\d+) duplicates"
    found = re.search(pattern, log)
    assert found, log[-3000:]
    return int(found.group(1)), int(found.group(2))


def _client_id() -> str:
    return f"vw-test-ingest-{uuid.uuid4().hex[:8]}"


def _group(wire: Wire) -> str:
    return "" if wire.embedded else f"vw-test-{uuid.uuid4().hex[:8]}"


def test_a_published_reading_is_stored_and_acknowledged_on_the_ack_topic(wire, ingests):
    # given a paired device and a running ingest service
    device = DeviceFactory()
    ingests(_client_id(), _group(wire))
    client = Device(wire, [device.device_id])

    # when the device publishes a reading at QoS 1
    client.publish(device.device_id, obs_json("e2e-1", reading(), reading(999)))

    # then it is acknowledged with the outcome, which is stored
    ack = client.wait_for_ack(device.device_id, "e2e-1")
    client.close()
    assert ack["accepted"] == 1
    assert ack["rejected"][0]["index"] == 1
    assert Observation.objects.filter(device=device, msg_id="e2e-1").count() == 1


def test_a_crash_between_commit_and_ack_loses_nothing_and_doubles_nothing(wire, ingests):
    needs(wire.embedded, "the embedded amqtt broker does not redeliver unacknowledged messages to a resumed session")
    # given an ingest process that dies after committing but before acknowledging
    device = DeviceFactory()
    client_id, group = _client_id(), _group(wire)
    crashing = ingests(client_id, group, crash_before_ack=True)
    client = Device(wire, [device.device_id])

    # when the device publishes and the process crashes
    client.publish(device.device_id, obs_json("crash-1", reading(71), reading(72)))
    assert crashing.wait_exit(timeout=15) == 86, crashing.log()[-3000:]
    assert Observation.objects.filter(device=device).count() == 2  # committed before the crash
    connection.close()
    assert client.answers(device.device_id) == []

    # and a fresh process resumes the same session
    ingests(client_id, group)

    # then the message is redelivered, answered, and stored exactly once
    ack = client.wait_for_ack(device.device_id, "crash-1", timeout=15)
    client.close()
    assert ack == {"msg_id": "crash-1", "accepted": 2, "rejected": []}
    assert Observation.objects.filter(device=device).count() == 2
    assert ReceivedMessage.objects.filter(device=device).count() == 1


def test_two_ingest_processes_sharing_a_subscription_store_every_message_exactly_once(wire, ingests):
    needs(wire.embedded, "the embedded amqtt broker has no shared subscriptions ($share)")
    # given two ingest processes in one share group, and ten devices
    group = _group(wire)
    consumers = [ingests(_client_id(), group) for _ in range(2)]
    devices = [DeviceFactory().device_id for _ in range(10)]
    client = Device(wire, devices)

    # when 100 messages of one reading each are published
    for n in range(100):
        client.publish(devices[n % 10], obs_json(f"share-{n}", reading(60 + n)))
    wait_until(lambda: ReceivedMessage.objects.filter(msg_id__startswith="share-").count() == 100, 12, "100 messages")
    client.close()
    for ingest in consumers:
        ingest.stop()

    # then each is stored once, and the two processes split the work without overlap (a shared
    # broker also carries other runs' traffic, refused here as unknown devices: only our devices'
    # readings are accepted, so the accepted counts are ours alone)
    assert Observation.objects.filter(msg_id__startswith="share-").count() == 100
    totals = [totals_on_exit(ingest.log()) for ingest in consumers]
    assert sum(accepted for accepted, _ in totals) == 100, totals
    assert all(accepted > 0 for accepted, _ in totals), totals
    assert sum(duplicates for _, duplicates in totals) == 0, totals


def test_a_resend_hears_the_stored_ack_and_a_reused_msg_id_is_refused_through_the_broker(wire, ingests):
    # given a paired device whose message was stored and acked
    device = DeviceFactory()
    ingests(_client_id(), _group(wire))
    client = Device(wire, [device.device_id])
    original = obs_json("resend-1", reading(71), reading(999))
    client.publish(device.device_id, original)
    first = client.wait_for_ack(device.device_id, "resend-1")

    # when the device resends it (its ack was late), then sends other readings under that msg_id
    client.publish(device.device_id, original)
    client.publish(device.device_id, obs_json("resend-1", reading(140)))

    def ours() -> list[dict]:  # "not registered" answers come from other runs' ingests on a shared broker
        acks = [ack for ack in client.acks[device.device_id] if ack["msg_id"] == "resend-1"]
        return [ack for ack in acks if "not registered" not in ack.get("error", "")]

    wait_until(lambda: len(ours()) >= 3, 10, "three acks")
    client.close()

    # then the resend hears the first answer again, the reuse is refused, and one copy is stored
    acks = ours()
    assert acks[:2] == [first, first]
    assert acks[2] == {
        "msg_id": "resend-1",
        "accepted": 0,
        "rejected": [],
        "error": "msg_id reused with different content",
    }
    assert list(Observation.objects.filter(device=device).values_list("value", flat=True)) == [71]
