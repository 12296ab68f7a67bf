"""A simulator of the demo ward's home devices, speaking protocol v1 through a real MQTT broker.

Two halves, like the platform's own ingest: :class:`SimDevice` is pure (given the scenario clock
it says what the device would publish, or that its connection drops) and is what the tests
drive; :class:`Simulator` owns one paho client per device and carries those decisions out.

Time is compressible: at ``speed`` 60 an hour of the patient's scenario passes in a real
minute. Readings are still stamped with the real time they are taken, so the platform sees a
ward where everything simply happens faster; nothing arrives dated in the future.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import socket
import threading
import time
import uuid
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt

from devices.mqtt_tls import ClientTls, broker_verify, client_tls_configure
from devices.outbox import ACK_TIMEOUT_S, Outbox, outboxes_load, outboxes_save, publish_due
from devices.protocol import MAX_OBSERVATIONS, ack_topic, config_topic, obs_topic, status_topic
from fixtures import demo_plan
from fixtures.demo_plan import DemoDevice, DemoPatient
from virtualward.env import mqtt_endpoint

logger = logging.getLogger(__name__)

HOUR = 3600.0
# Scenario timings, in the patient's (simulated) hours.
NOT_SPOT_ONLINE_H, NOT_SPOT_OFFLINE_H = 1.5, 2.5
DIES_AFTER_H = 1.5
MALFORMED_EVERY = 4  # every fourth patch message is followed by a broken one
UNWELL_SPOT_CHECK_S = 1800  # a deteriorating patient is asked to check every half hour
OUTBOX_SAVE_S = 5.0  # how often the devices' unacked readings are stored against a crash


@dataclass(frozen=True)
class Publish:
    topic: str
    payload: bytes
    retain: bool = False
    malformed: bool = False
    msg_id: str | None = None  # set on the readings the device keeps until acked (devices/outbox.py)


@dataclass(frozen=True)
class Drop:
    """The connection dies without an MQTT DISCONNECT, so the broker sends the Last Will."""

    reason: str


@dataclass(frozen=True)
class Reconnect:
    reason: str


Action = Publish | Drop | Reconnect


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def obs_payload(msg_id: str, items: list[dict], battery: int | None, sent_at: datetime) -> bytes:
    body: dict = {"msg_id": msg_id, "sent_at": stamp(sent_at), "observations": items}
    if battery is not None:
        body["battery"] = battery
    return json.dumps(body, separators=(",", ":")).encode()


def status_payload(state: str, battery: int | None = None, network: dict | None = None) -> bytes:
    body: dict = {"state": state}
    if battery is not None and state == "online":
        body["battery"] = battery
    if network is not None and state == "online":
        body["network"] = network
    return json.dumps(body, separators=(",", ":")).encode()


# UK mobile networks (MCC 234) the simulated hubs use, so an outage of one can be staged.
SIM_OPERATORS = ("23410", "23415", "23420", "23430")


def sim_network(device_id: str, *, not_spot: bool = False) -> dict:
    """The `network` a simulated device reports: a fixed operator and cell per device id."""
    digest = zlib.crc32(device_id.encode())
    operator = SIM_OPERATORS[digest % len(SIM_OPERATORS)]
    # A not-spot home sits at the edge of coverage: a weak signal on an older technology.
    rssi, technology = (-109, "2G") if not_spot else (-70 - digest % 25, "4G")
    return {"type": "cellular", "operator": operator, "rssi_dbm": rssi, "technology": technology,
            "cell": f"{operator}{digest % 97:05d}"}  # fmt: skip


def malformed_payloads(msg_id: str, now: datetime) -> list[bytes]:
    """Broken messages a buggy device might send; protocol v1 must refuse every one."""
    at = stamp(now)
    good = {"type": "heart_rate", "value": 80, "unit": "/min", "measured_at": at}
    return [
        b'{"msg_id": "' + msg_id.encode() + b'", "observations": [',  # truncated: not JSON
        json.dumps({"observations": [good]}).encode(),  # no msg_id
        json.dumps({"msg_id": msg_id, "observations": good}).encode(),  # observations not a list
        json.dumps(
            {"msg_id": msg_id, "observations": [good, {**good, "type": "spo2", "value": 150, "unit": "%"}]}
        ).encode(),  # spo2 150 %: that item is rejected, the pulse is kept
        json.dumps(
            {"msg_id": msg_id, "observations": [{**good, "type": "temperature", "value": 37, "unit": "C"}]}
        ).encode(),  # wrong unit
        json.dumps({"msg_id": msg_id, "observations": [{**good, "measured_at": at[:-1]}]}).encode(),  # no offset
    ]


@dataclass
class SimDevice:
    """One device's behaviour in its scenario; pure, so tests can run hours of it instantly."""

    patient: DemoPatient
    plan: DemoDevice
    rng: random.Random
    battery: float = 90.0
    online: bool = True
    dead: bool = False
    sent: int = 0
    next_due_s: float = 0.0
    buffer: list[dict] = field(default_factory=list)

    @property
    def device_id(self) -> str:
        return self.plan.device_id

    @property
    def is_patch(self) -> bool:
        return self.plan.mode == "continuous"

    def behaviour(self) -> str:
        """The device-level scenario: only the patient's continuous patch misbehaves."""
        scenario = self.patient.scenario
        device_scenarios = (demo_plan.NOT_SPOT, demo_plan.DEVICE_DIES, demo_plan.LOW_BATTERY, demo_plan.MALFORMED)
        return scenario if self.is_patch and scenario in device_scenarios else demo_plan.STABLE

    def interval_s(self) -> float:
        unwell = self.patient.scenario in (demo_plan.COPD_DETERIORATION, demo_plan.SEPSIS)
        if unwell and not self.is_patch and self.plan.kind != "scales":
            return min(self.plan.interval_s, UNWELL_SPOT_CHECK_S)
        return float(self.plan.interval_s)

    def first_due(self, speed: float) -> None:
        # Spot checks come within the first real half-minute so scores are complete early,
        # spread out so seventy devices do not all report in the same second.
        window = self.interval_s() if self.is_patch else min(self.interval_s(), 30 * speed)
        self.next_due_s = self.rng.uniform(0, window)

    def step(self, sim_s: float, now: datetime) -> list[Action]:
        if self.dead:
            return []
        actions = self._connectivity(sim_s / HOUR)
        if sim_s >= self.next_due_s:
            self.next_due_s = sim_s + self.interval_s() * self.rng.uniform(0.95, 1.05)
            actions += self._measure(sim_s / HOUR, now)
        return actions

    def _connectivity(self, hours: float) -> list[Action]:
        behaviour = self.behaviour()
        if behaviour == demo_plan.DEVICE_DIES and hours >= DIES_AFTER_H:
            self.dead, self.online = True, False
            return [Drop("battery failed: the device is dead and will not come back")]
        if behaviour != demo_plan.NOT_SPOT:
            return []
        in_signal = hours % (NOT_SPOT_ONLINE_H + NOT_SPOT_OFFLINE_H) < NOT_SPOT_ONLINE_H
        if self.online and not in_signal:
            self.online = False
            return [Drop("lost mobile signal (not-spot): storing readings")]
        if not self.online and in_signal:
            self.online = True
            return [Reconnect("signal back"), *self._upload_buffer()]
        return []

    def _upload_buffer(self) -> list[Action]:
        """Store-and-forward: everything measured offline, in batches of at most 500 items."""
        actions: list[Action] = []
        while self.buffer:
            batch, self.buffer = self.buffer[:MAX_OBSERVATIONS], self.buffer[MAX_OBSERVATIONS:]
            actions.append(self._publish_obs(batch, datetime.now(UTC)))
        return actions

    def _drain_battery(self, hours_per_reading: float) -> None:
        rate = 3.0 if self.behaviour() == demo_plan.LOW_BATTERY else 0.4
        self.battery = max(self.battery - rate * hours_per_reading, 4.0)

    def _measure(self, hours: float, now: datetime) -> list[Action]:
        self._drain_battery(self.interval_s() / HOUR)
        vitals = demo_plan.vitals_at(self.patient, hours, self.rng)
        at = stamp(now)
        items = [
            {"type": kind, "value": value, **({"unit": unit} if unit else {}), "measured_at": at}
            for kind, value, unit in demo_plan.measure(self.plan, vitals)
        ]
        if not self.online:
            self.buffer.extend(items)
            return []
        actions: list[Action] = [self._publish_obs(items, now)]
        if self.behaviour() == demo_plan.MALFORMED and self.sent % MALFORMED_EVERY == 0:
            variants = malformed_payloads(self._msg_id(), now)
            actions.append(Publish(obs_topic(self.device_id), variants[self.sent // MALFORMED_EVERY % len(variants)],
                                   malformed=True))  # fmt: skip
        return actions

    def _msg_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _publish_obs(self, items: list[dict], now: datetime) -> Publish:
        self.sent += 1
        msg_id = self._msg_id()
        return Publish(obs_topic(self.device_id), obs_payload(msg_id, items, round(self.battery), now), msg_id=msg_id)

    def status(self) -> bytes:
        network = sim_network(self.device_id, not_spot=self.behaviour() == demo_plan.NOT_SPOT)
        return status_payload("online", round(self.battery), network)


def build_devices(patients: tuple[DemoPatient, ...], *, seed: int = 1, only: set[str] | None = None) -> list[SimDevice]:
    """A SimDevice for every demo device (or those whose id is in ``only``)."""
    rng = random.Random(seed)
    devices = []
    for patient in patients:
        for plan in patient.devices:
            if only is not None and plan.device_id not in only:
                continue
            battery = 26.0 if patient.scenario == demo_plan.LOW_BATTERY and plan.mode == "continuous" else None
            devices.append(
                SimDevice(patient, plan, random.Random(rng.random()), battery=battery or rng.uniform(55, 100))
            )
    return devices


# --- transport --------------------------------------------------------------------------------


class DeviceLink:
    """One device's MQTT connection: client id = username = device id, Last Will offline.

    Readings go through the device's outbox: kept until the platform acks them, resent until
    then, and only published once the ``ack`` subscription is confirmed on this connection.
    """

    def __init__(
        self, device: SimDevice, url: str, password: str | None, *, ack_timeout_s: float = ACK_TIMEOUT_S
    ) -> None:
        self.device, self.url, self.password = device, url, password
        self.pending: deque[Publish] = deque()
        self.outbox = Outbox(ack_timeout_s=ack_timeout_s, max_backoff_s=max(ack_timeout_s, 300.0))
        self.acks_subscribed = threading.Event()
        self.client: mqtt.Client | None = None

    def connect(self) -> None:
        host, port, tls = mqtt_endpoint(self.url)
        device_id = self.device.device_id
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv311)
        client.username_pw_set(device_id, self.password)
        if tls:  # the broker verified against MQTT_CA_FILE, never plain text (devices/mqtt_tls.py)
            client_tls_configure(client, ClientTls.from_environ())
        client.will_set(status_topic(device_id), status_payload("offline"), qos=1, retain=True)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = lambda *args: self.acks_subscribed.clear()
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 10)
        client.connect_async(host, port, keepalive=30)
        client.loop_start()
        self.client = client

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            logger.error("%s: broker refused the connection: %s", self.device.device_id, reason_code)
            return
        device_id = self.device.device_id
        self.acks_subscribed.clear()
        client.subscribe([(ack_topic(device_id), 1), (config_topic(device_id), 1)])
        client.publish(status_topic(device_id), self.device.status(), qos=1, retain=True)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_codes and not reason_codes[0].is_failure:
            # A new connection: whatever the last one carried unacked goes out again now.
            self.outbox.reconnected()
            self.acks_subscribed.set()

    def _on_message(self, client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        if not message.topic.endswith("/ack"):
            return
        answer = self.outbox.on_ack(message.payload)
        if answer is not None and (answer.rejected or answer.error):
            logger.info("%s: platform refused part of %s: %s", self.device.device_id, answer.msg_id,
                        answer.error or answer.rejected)  # fmt: skip

    def send(self, publish: Publish) -> None:
        if publish.msg_id is not None:
            self.outbox.add(publish.msg_id, publish.topic, publish.payload)
        else:
            self.pending.append(publish)
        self.flush()

    def flush(self) -> None:
        # While disconnected the messages wait here, as a real device keeps them in flash.
        client = self.client
        while self.pending and client is not None and client.is_connected():
            item = self.pending.popleft()
            client.publish(item.topic, item.payload, qos=1, retain=item.retain)
        if client is not None and client.is_connected() and self.acks_subscribed.is_set():
            publish_due(self.outbox, client)

    def drop(self) -> None:
        """Die mid-connection: close the socket with no DISCONNECT, so the Last Will fires."""
        client, self.client = self.client, None
        self.acks_subscribed.clear()
        if client is None:
            return
        client.loop_stop()
        sock = client.socket()
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):  # already gone: the broker noticed either way
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        """The simulator is stopping: say offline (retained) and leave cleanly."""
        client, self.client = self.client, None
        if client is None:
            return
        if client.is_connected():
            info = client.publish(status_topic(self.device.device_id), status_payload("offline"), qos=1, retain=True)
            info.wait_for_publish(timeout=2)
        client.disconnect()
        client.loop_stop()


class Simulator:
    def __init__(
        self,
        devices: list[SimDevice],
        url: str,
        *,
        speed: float,
        credentials: dict[str, str],
        ack_timeout_s: float = ACK_TIMEOUT_S,
        outbox_path: Path | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be above 0")
        self.speed = speed
        self.links = {
            d.device_id: DeviceLink(d, url, credentials.get(d.device_id), ack_timeout_s=ack_timeout_s) for d in devices
        }
        self.published = 0
        # Where the devices' unacked readings outlive a restart of the simulator, as in a real
        # device's flash (saved every few seconds and on stopping).
        self.outbox_path = outbox_path

    def run(self, stop: threading.Event, *, duration: float | None = None, tick_s: float = 0.25) -> None:
        outboxes = {device_id: link.outbox for device_id, link in self.links.items()}
        if self.outbox_path is not None and (kept := outboxes_load(self.outbox_path, outboxes)):
            logger.info("resending %d readings a previous run left unacknowledged", kept)
        if self.links:
            broker_verify(next(iter(self.links.values())).url)
        for link in self.links.values():
            link.device.first_due(self.speed)
            link.connect()
        started = saved = time.monotonic()
        try:
            while not stop.is_set() and (duration is None or time.monotonic() - started < duration):
                self.tick((time.monotonic() - started) * self.speed, datetime.now(UTC))
                if self.outbox_path is not None and time.monotonic() - saved >= OUTBOX_SAVE_S:
                    outboxes_save(self.outbox_path, outboxes)
                    saved = time.monotonic()
                stop.wait(tick_s)
        finally:
            for link in self.links.values():
                link.close()
            if self.outbox_path is not None:
                outboxes_save(self.outbox_path, outboxes)

    def tick(self, sim_s: float, now: datetime) -> None:
        for link in self.links.values():
            for action in link.device.step(sim_s, now):
                self._carry_out(link, action)
            link.flush()

    def _carry_out(self, link: DeviceLink, action: Action) -> None:
        device_id = link.device.device_id
        if isinstance(action, Publish):
            self.published += 1
            if action.malformed:
                logger.info("%s: sending a deliberately malformed message", device_id)
            link.send(action)
        elif isinstance(action, Drop):
            logger.warning("%s: connection lost - %s", device_id, action.reason)
            link.drop()
        else:
            logger.info("%s: %s, reconnecting and uploading stored readings", device_id, action.reason)
            link.connect()
