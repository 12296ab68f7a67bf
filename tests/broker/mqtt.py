"""Small blocking MQTT helpers for broker tests (paho-mqtt 2.x)."""

from __future__ import annotations

import queue
import threading
import uuid
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt

TIMEOUT = 5.0


def _client(url: str, username: str, password: str, client_id: str | None = None) -> tuple[mqtt.Client, str, int]:
    parts = urlsplit(url)
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id or f"test-{uuid.uuid4().hex[:10]}",
        protocol=mqtt.MQTTv311,
    )
    client.username_pw_set(username, password)
    return client, parts.hostname or "127.0.0.1", parts.port or 1883


class Session:
    """A connected client that records what it receives and whether it was disconnected."""

    def __init__(self, url: str, username: str, password: str, client_id: str | None = None) -> None:
        self.client, host, port = _client(url, username, password, client_id)
        self.client.reconnect_delay_set(30, 60)  # never reconnect within a test
        self.messages: queue.Queue[tuple[str, bytes]] = queue.Queue()
        self.connack = threading.Event()
        self.disconnected = threading.Event()
        self.reason: mqtt.ReasonCode | None = None
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self.disconnected.set()
        self.client.on_message = lambda client, userdata, msg: self.messages.put((msg.topic, msg.payload))
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self.connack.wait(TIMEOUT):
            raise TimeoutError("no CONNACK")

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.reason = reason_code
        self.connack.set()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure

    def subscribe(self, topic: str) -> None:
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.subscribe(topic, qos=1)
        if not subscribed.wait(TIMEOUT):
            raise TimeoutError(f"no SUBACK for {topic}")

    def publish(self, topic: str, payload: bytes | str, *, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(TIMEOUT)

    def next_message(self, timeout: float = TIMEOUT) -> tuple[str, bytes] | None:
        try:
            return self.messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect_accepted(url: str, username: str, password: str, client_id: str | None = None) -> bool:
    session = Session(url, username, password, client_id)
    try:
        return session.accepted
    finally:
        session.close()
