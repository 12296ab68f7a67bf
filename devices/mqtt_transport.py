"""A small paho-mqtt 2.x transport for the ingest service. It knows nothing about patients.

It connects with a fixed client id and a persistent session, subscribes (QoS 1) to every
device's ``obs`` and ``status`` topics in ``on_connect`` and hands each message, untouched, to
a callback that only enqueues it. Nothing here touches the database: paho's network thread must
stay free to read the socket, or the broker's keep-alive and flow control suffer.

Messages are acknowledged by the caller (``manual_ack``) once their outcome is committed, so a
crash before that leaves them in the broker's session for redelivery. See docs/ingest.md.

paho itself runs as :class:`IngestClient`, a subclass that reads and writes the socket in bulk:
the same protocol code, a fraction of the system calls (docs/ingest.md, "Socket I/O").
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion, _ConnectionState
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from virtualward.env import mqtt_endpoint

logger = logging.getLogger(__name__)

DEVICE_TOPICS = ("vw/v1/devices/+/obs", "vw/v1/devices/+/status")
PROTOCOLS = {"5": MQTTProtocolVersion.MQTTv5, "3.1.1": MQTTProtocolVersion.MQTTv311}
UNSUPPORTED_PROTOCOL = 132  # CONNACK reason "Unsupported protocol version" (3.1.1 return code 1)

RECV_BYTES = 64 * 1024  # one recv() takes in a burst of packets
RECVS_PER_READ = 16  # then the loop gets to write and keep alive, even under a flood
WRITE_BYTES = 64 * 1024  # packets joined into one send()


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
    session_expiry_s: int = 7 * 24 * 3600
    # MQTT 5 flow control: how many unacknowledged messages the broker may have in flight to
    # us. It must exceed one batch, or every batch waits for the timer. (3.1.1: broker config.)
    receive_maximum: int = 1000
    ca_file: str = ""
    keepalive_s: int = 30


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


def _needs_paho(packet: Any) -> bool:
    """Packets that paho acts on once sent: a QoS 0 publish (on_publish) and DISCONNECT."""
    command = packet["command"] & 0xF0
    return command == mqtt.DISCONNECT or (command == mqtt.PUBLISH and packet["qos"] == 0)


class IngestClient(mqtt.Client):
    """paho's client with its socket I/O done in bulk; the protocol handling is paho's own.

    paho reads each packet with a ``recv`` for its first byte, one per length byte and one for
    the body; for every packet another thread queues it writes a byte to a socket pair to wake
    its loop, which then sends each packet on its own. Here one ``recv`` fills a buffer that
    packets are cut from, one byte wakes the loop for all the packets queued until it next
    writes, and the loop joins queued packets into one ``send``. Overrides ``loop_read`` and
    ``loop_start`` and the private ``_packet_read``, ``_packet_queue``, ``_packet_write``,
    ``_sock_close`` and ``_create_socket`` of paho 2.x (requirements.txt keeps it below 3);
    tests/ingest/test_transport_io.py checks their signatures and runs them against the broker.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._inbuf = bytearray()
        self._inpos = 0  # where the next packet starts in _inbuf
        self._recvs_left = 0
        self._wake_pending = False
        self._retry_count = 0  # packets the last, refused send() held: TLS must resend those bytes

    # --- reading (network thread) ----------------------------------------------------------------

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        # Unlike paho's, this reads until no whole packet is left in the buffer: one that is
        # already here must not wait for the socket's next event, which may never come.
        if self._sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        self._recvs_left = RECVS_PER_READ
        while True:
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN

    def _packet_read(self) -> MQTTErrorCode:
        try:
            packet = self._cut_packet()
            while packet is None:
                rc = self._fill()
                packet = self._cut_packet()
                if packet is None and rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                    return rc
        except MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_ERR, "Received malformed packet: %s", exc)
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        command, body = packet
        self._in_packet = {
            "command": command,
            "have_remaining": 1,
            "remaining_count": [],
            "remaining_mult": 1,
            "remaining_length": len(body),
            "packet": body,
            "to_process": 0,
            "pos": 0,
        }
        try:
            return self._packet_handle()
        except MalformedPacket as exc:
            self._easy_log(mqtt.MQTT_LOG_DEBUG, "Received malformed packet: %s", exc)
            return MQTTErrorCode.MQTT_ERR_PROTOCOL

    def _cut_packet(self) -> tuple[int, bytearray] | None:
        """The next whole packet in the buffer (fixed header byte, body), or None."""
        buf, start = self._inbuf, self._inpos
        end = len(buf)
        at, length, shift = start + 1, 0, 0
        while True:
            if at >= end:
                return None
            byte = buf[at]
            at += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 21:
                raise MalformedPacket("remaining length longer than four bytes")
        if end - at < length:
            return None
        self._inpos = at + length
        return buf[start], buf[at : at + length]

    def _fill(self) -> MQTTErrorCode:
        """One recv() into the buffer; SUCCESS if it came back full, so more may be waiting."""
        if self._recvs_left <= 0:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        self._recvs_left -= 1
        try:
            data = self._sock_recv(RECV_BYTES)
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as err:
            self._easy_log(mqtt.MQTT_LOG_ERR, "failed to receive on socket: %s", err)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not data:
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if self._inpos:
            del self._inbuf[: self._inpos]
            self._inpos = 0
        self._inbuf += data
        with self._msgtime_mutex:
            self._last_bytes_received = mqtt.time_func()
        if len(data) < RECV_BYTES:
            # A short read emptied the socket (under TLS, a record: pending() and select() see
            # the rest), so another recv() before the next socket event would only fail.
            self._recvs_left = 0
            return MQTTErrorCode.MQTT_ERR_AGAIN
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sock_close(self) -> None:
        # Bytes of a closed connection must never be read or resent as part of the next one.
        self._inbuf = bytearray()
        self._inpos = 0
        self._retry_count = 0
        if self._sock is not None and self._state == _ConnectionState.MQTT_CS_DISCONNECTING:
            _drain_until_closed(self._sock)
        super()._sock_close()

    # --- queueing (any thread) -----------------------------------------------------------------

    def _packet_queue(
        self, command: int, packet: bytes | bytearray, mid: int, qos: int, info: mqtt.MQTTMessageInfo | None = None
    ) -> MQTTErrorCode:
        self._out_packet.append(
            {
                "command": command,
                "mid": mid,
                "qos": qos,
                "pos": 0,
                "to_process": len(packet),
                "packet": packet,
                "info": info,
            }
        )
        self._wake()
        # As paho: without a network thread or an external loop, write at once.
        if self._thread is None and self._on_socket_register_write is None and self._in_callback_mutex.acquire(False):
            self._in_callback_mutex.release()
            return self.loop_write()
        self._call_socket_register_write()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _wake(self) -> None:
        # One byte wakes the loop for everything queued until its next _packet_write, which
        # clears the flag before it takes the first packet: nothing queued is left unsent.
        if self._wake_pending or self._sockpairW is None:
            return
        self._wake_pending = True
        with contextlib.suppress(BlockingIOError):  # a full pair already holds a wake-up
            self._sockpairW.send(mqtt.sockpair_data)

    def loop_start(self) -> MQTTErrorCode:
        self._wake_pending = False  # a new socket pair: no wake-up byte is on its way
        return super().loop_start()

    # --- writing (network thread) ----------------------------------------------------------------

    def _packet_write(self) -> MQTTErrorCode:
        self._wake_pending = False
        out = self._out_packet
        while out:
            count, data = self._next_write(out)
            if not count:
                rc = super()._packet_write()
                if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                    self._retry_count = 1  # paho was sending the head packet alone
                return rc
            try:
                written = self._sock_send(data)
            except (AttributeError, ValueError):
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            except BlockingIOError:
                self._retry_count = count
                return MQTTErrorCode.MQTT_ERR_AGAIN
            except OSError as err:
                self._easy_log(mqtt.MQTT_LOG_ERR, "failed to send on socket: %s", err)
                return MQTTErrorCode.MQTT_ERR_CONN_LOST
            self._retry_count = 0
            if written <= 0:
                break
            _advance(out, written)
        with self._msgtime_mutex:
            self._last_msg_out = mqtt.time_func()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _next_write(self, out: deque[Any]) -> tuple[int, bytes | bytearray]:
        """How many packets from the head go into the next send(), and their bytes; 0: paho's."""
        # Indexing, not iterating: other threads append to the deque meanwhile.
        head = out[0]
        if _needs_paho(head):
            return 0, b""
        chunks = [head["packet"][head["pos"] :] if head["pos"] else head["packet"]]
        retry, size, count = self._retry_count, head["to_process"], 1
        limit = min(retry, len(out)) if retry else len(out)
        while count < limit:
            packet = out[count]
            if not retry and (size >= WRITE_BYTES or _needs_paho(packet)):
                break
            chunks.append(packet["packet"])
            size += packet["to_process"]
            count += 1
        return count, chunks[0] if count == 1 else b"".join(chunks)

    def _create_socket(self) -> Any:
        sock = super()._create_socket()
        # Acks are a few bytes each: sent as soon as written, not held back for the peer's ACK.
        with contextlib.suppress(AttributeError, OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


def _drain_until_closed(sock: Any, timeout_s: float = 1.0) -> None:
    """After our DISCONNECT: drop what the broker still sends until it closes its end."""
    # Closing a socket that holds unread bytes makes the kernel reset the connection, and the
    # reset can discard our last acks before the broker has read them: at the next start those
    # messages would come again. Draining first makes the close an orderly one.
    deadline = time.monotonic() + timeout_s
    with contextlib.suppress(OSError, ValueError):
        sock.shutdown(socket.SHUT_WR)
        while (remaining := deadline - time.monotonic()) > 0:
            if select.select([sock], [], [], remaining)[0]:
                try:
                    if not sock.recv(RECV_BYTES):
                        return
                except BlockingIOError:
                    continue


def _advance(out: deque[Any], written: int) -> None:
    """Take ``written`` bytes off the packets at the head of ``out``; whole ones leave it."""
    while written:
        packet = out[0]
        sent = min(written, packet["to_process"])
        packet["pos"] += sent
        packet["to_process"] -= sent
        written -= sent
        if packet["to_process"]:
            return
        out.popleft()


def _configure_common(client: mqtt.Client, config: TransportConfig, *, tls: bool) -> None:
    if config.username:
        client.username_pw_set(config.username, config.password or None)
    if tls:
        client.tls_set(ca_certs=config.ca_file or None, cert_reqs=ssl.CERT_REQUIRED)
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
