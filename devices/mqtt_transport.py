"""A small paho-mqtt 2.x transport for the ingest service. It knows nothing about patients.

It connects with a fixed client id and a persistent session, subscribes (QoS 1) to every
device's ``obs`` and ``status`` topics in ``on_connect`` and hands each message, untouched, to
a callback that only enqueues it. Nothing here touches the database: paho's network thread must
stay free to read the socket, or the broker's keep-alive and flow control suffer.

Messages are acknowledged by the caller (``manual_ack``) once their outcome is committed, so a
crash before that leaves them in the broker's session for redelivery. See docs/ingest.md.

paho itself runs as :class:`devices.mqtt_client.IngestClient`, a subclass that reads and writes
the socket in bulk: the same protocol code, a fraction of the system calls (docs/ingest.md,
"Socket I/O").
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from devices.mqtt_client import IngestClient, set_publish_window
from devices.mqtt_tls import ClientTls, broker_check, client_tls_configure
from virtualward.env import mqtt_endpoint

logger = logging.getLogger(__name__)

DEVICE_TOPICS = ("vw/v1/devices/+/obs", "vw/v1/devices/+/status")
PROTOCOLS = {"5": MQTTProtocolVersion.MQTTv5, "3.1.1": MQTTProtocolVersion.MQTTv311}
UNSUPPORTED_PROTOCOL = 132  # CONNACK reason "Unsupported protocol version" (3.1.1 return code 1)


@dataclass(frozen=True, slots=True)
class Received:
    """One message as it came off the wire. ``token`` is how :meth:`MqttTransport.ack` finds it."""

    topic: str
    payload: bytes
    received_at: datetime
    retained: bool
    token: tuple[int, int, int]  # (connection generation, mid, qos)


@dataclass(frozen=True, slots=True)
class TransportConfig:
    url: str
    client_id: str
    username: str = ""
    password: str = ""
    protocol: str = "auto"  # "auto", "5" or "3.1.1"
    share_group: str = ""  # empty: plain subscriptions, for brokers without $share
    session_expiry_s: int = 60  # settings.MQTT_SESSION_EXPIRY_S
    # MQTT 5 flow control: how many unacknowledged messages the broker may have in flight to
    # us. It must exceed one batch, or every batch waits for the timer. (3.1.1: broker config.)
    receive_maximum: int = 1000
    # Our own QoS 1 publishes (a device's acks) that may await the broker's PUBACK at once. At
    # paho's default of 20 a batch's acks left one per PUBACK. MQTT 5: never more than the
    # Receive Maximum the broker's CONNACK states (publish_window_for).
    publish_window: int = 1000
    ca_file: str = ""
    cert_file: str = ""  # mutual TLS: the platform's client certificate and key
    key_file: str = ""
    keepalive_s: int = 30

    @property
    def tls(self) -> ClientTls:
        return ClientTls(self.ca_file, self.cert_file, self.key_file)


def subscriptions(share_group: str) -> list[str]:
    if not share_group:
        return list(DEVICE_TOPICS)
    return [f"$share/{share_group}/{topic}" for topic in DEVICE_TOPICS]


def _topic_of(message: mqtt.MQTTMessage) -> str:
    try:
        return message.topic
    except UnicodeDecodeError:
        # A broker should refuse such a topic; if one slips through it is still recorded.
        return message._topic.decode("utf-8", errors="replace")


class MqttTransport:
    """Connect, subscribe, hand over, acknowledge, publish and stop. Thread-safe where it says."""

    def __init__(self, config: TransportConfig, on_message: Callable[[Received], None]) -> None:
        self.config = config
        self._deliver = on_message
        self._host, self._port, self._tls = mqtt_endpoint(config.url)
        self._generation = 0
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.protocol = config.protocol
        self._client: mqtt.Client | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self, *, negotiate_timeout_s: float = 10.0) -> None:
        if self._tls:
            # A wrong CA, host name or certificate stops start-up here (BrokerTrustError), rather
            # than as reconnect attempts failing quietly in paho's thread.
            version = broker_check(self._host, self._port, self.config.tls, timeout_s=negotiate_timeout_s)
            logger.info("MQTT broker at %s:%s verified over %s", self._host, self._port, version)
        if self.protocol == "auto":
            self.protocol = negotiate_protocol(self.config, timeout_s=negotiate_timeout_s)
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"MQTT protocol {self.protocol!r} is not one of auto, 5, 3.1.1")
        self._client = self._build_client()
        self._client.connect_async(self._host, self._port, **self._connect_kwargs())
        self._client.loop_start()

    def stop(self) -> None:
        """Disconnect cleanly. Unacknowledged messages stay in the broker's session."""
        client = self._client
        if client is None:
            return
        self._stopping = True
        client.disconnect()
        client.loop_stop()
        self.connected.clear()

    # --- called from the worker thread ------------------------------------------------------------

    def ack(self, token: tuple[int, int, int]) -> bool:
        """Acknowledge a message; False when it came over an earlier connection.

        A packet id is only meaningful on the connection that carried it: after a reconnect the
        broker redelivers that message, and acking the old id could acknowledge another one.
        """
        generation, mid, qos = token
        with self._lock:
            if generation != self._generation or self._client is None:
                return False
            return self._client.ack(mid, qos) == mqtt.MQTT_ERR_SUCCESS

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        # paho queues QoS 1 publishes while disconnected and sends them after reconnecting.
        if self._client is not None:
            self._client.publish(topic, payload, qos=qos, retain=retain)

    # --- paho ----------------------------------------------------------------------------------------

    def _build_client(self) -> IngestClient:
        v5 = self.protocol == "5"
        client = IngestClient(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=self.config.client_id,
            clean_session=None if v5 else False,
            protocol=PROTOCOLS[self.protocol],
            manual_ack=True,
        )
        _configure_common(client, self.config, tls=self._tls)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        return client

    def _connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"keepalive": self.config.keepalive_s}
        if self.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)
            properties.SessionExpiryInterval = self.config.session_expiry_s
            properties.ReceiveMaximum = self.config.receive_maximum
            kwargs.update(clean_start=False, properties=properties)
        return kwargs

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            logger.error("MQTT connection to %s:%s refused: %s", self._host, self._port, reason)
            return
        with self._lock:
            self._generation += 1
        set_publish_window(client, publish_window_for(self.protocol, properties, self.config.publish_window))
        logger.info(
            "MQTT connected to %s:%s as %s (MQTT %s, session present: %s)",
            self._host, self._port, self.config.client_id, self.protocol, flags.session_present,
        )
        self.connected.set()
        topics = subscriptions(self.config.share_group)
        if self.protocol == "5":
            # Retained status messages are replays of an old state, not news: don't resend them
            # to a subscription the session already has.
            options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
            client.subscribe([(topic, options) for topic in topics])
        else:
            client.subscribe([(topic, 1) for topic in topics])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: Any, properties: Any) -> None:
        refused = [str(reason) for reason in reasons if reason.is_failure]
        if refused:
            logger.error("MQTT subscription refused (%s): is $share supported by this broker?", ", ".join(refused))
            return
        logger.info("MQTT subscribed to %s", ", ".join(subscriptions(self.config.share_group)))
        self.subscribed.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        with self._lock:
            # The lost connection's tokens stop acking now, not at the next CONNACK: paho drops
            # unsent packets when it reconnects, and an ack queued after that drop would go out
            # on the new connection (see ack).
            self._generation += 1
        was_connected = self.connected.is_set()
        self.connected.clear()
        self.subscribed.clear()
        if getattr(self, "_stopping", False):
            logger.info("MQTT disconnected on request")
        elif was_connected:
            logger.warning("MQTT disconnected (%s); reconnecting with backoff", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # The network thread only stamps and hands over: parsing and storing happen elsewhere.
        self._deliver(
            Received(
                topic=_topic_of(message),
                payload=message.payload,
                received_at=datetime.now(UTC),
                retained=bool(message.retain),
                token=(self._generation, message.mid, message.qos),
            )
        )


def publish_window_for(protocol: str, connack_properties: Any, wanted: int) -> int:
    """How many QoS 1 publishes may await their PUBACK: ``wanted``, within the broker's limit.

    Under MQTT 5 a broker states its Receive Maximum in CONNACK (65,535 when absent) and may
    disconnect a client that exceeds it; paho does not apply it itself. MQTT 3.1.1 has no such
    limit to honour.
    """
    if protocol != "5":
        return wanted
    broker = getattr(connack_properties, "ReceiveMaximum", 65_535)
    return max(1, min(wanted, broker))


def _configure_common(client: mqtt.Client, config: TransportConfig, *, tls: bool) -> None:
    if config.username:
        client.username_pw_set(config.username, config.password or None)
    if tls:
        client_tls_configure(client, config.tls)
    client.reconnect_delay_set(min_delay=1, max_delay=30)


def negotiate_protocol(config: TransportConfig, *, timeout_s: float = 10.0) -> str:
    """"5" if the broker speaks MQTT 5, else "3.1.1". A throwaway client id leaves no session."""
    host, port, tls = mqtt_endpoint(config.url)
    answer: dict[str, int] = {}
    done = threading.Event()

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        answer["code"] = reason.value
        done.set()

    probe = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"{config.client_id}-probe-{uuid.uuid4().hex[:8]}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    _configure_common(probe, config, tls=tls)
    probe.on_connect = on_connect
    probe.connect_async(host, port, clean_start=True)
    probe.loop_start()
    try:
        if not done.wait(timeout_s):
            raise ConnectionError(f"no answer from the MQTT broker at {host}:{port} within {timeout_s:.0f}s")
    finally:
        probe.disconnect()
        probe.loop_stop()
    chosen = "3.1.1" if answer["code"] in (1, UNSUPPORTED_PROTOCOL) else "5"
    logger.info("MQTT broker at %s:%s: using MQTT %s", host, port, chosen)
    return chosen
