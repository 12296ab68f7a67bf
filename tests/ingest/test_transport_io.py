"""The transport's socket I/O (IngestClient): bulk reads, one wake-up for many packets, joined writes.

Packet-level tests drive the client over a socket pair with hand-built MQTT 3.1.1 packets; the
rest go through the broker at MQTT_URL (the real Mosquitto in CI), on topics of their own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import ipaddress
import queue
import select
import socket
import ssl
import struct
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from django.conf import settings
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from benchmarks.stack import forget_mqtt_session
from devices import mqtt_client, mqtt_transport
from devices.mqtt_client import IngestClient
from devices.mqtt_transport import MqttTransport, Received, TransportConfig

BIG = (65_536 + 1, 70_000, 300_000)  # past the read buffer and past 64 KiB


# --- packet level ------------------------------------------------------------------------------------


def publish_packet(topic: str, payload: bytes, mid: int) -> bytes:
    """A QoS 1 PUBLISH as a broker sends it under MQTT 3.1.1."""
    body = struct.pack("!H", len(topic)) + topic.encode() + struct.pack("!H", mid) + payload
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes([0x32]) + bytes(encoded) + body


def v5_publish_packet(topic: str, payload: bytes, mid: int, *, properties: bytes = b"", flags: int = 0x02) -> bytes:
    """A PUBLISH as a broker sends it under MQTT 5 (QoS 1 unless ``flags`` says otherwise)."""
    body = v5_publish_body(topic, payload, mid, properties=properties, flags=flags)
    return bytes([0x30 | flags]) + remaining_length(len(body)) + body


def v5_publish_body(topic: str, payload: bytes, mid: int, *, properties: bytes = b"", flags: int = 0x02) -> bytes:
    encoded = topic.encode()
    body = struct.pack("!H", len(encoded)) + encoded
    if flags & 0x06:
        body += struct.pack("!H", mid)
    return body + bytes([len(properties)]) + properties + payload  # property lengths under 128 here


def remaining_length(length: int) -> bytes:
    encoded = bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            return bytes(encoded)


class Wire:
    """An IngestClient reading one end of a socket pair; the test writes the other end."""

    def __init__(self, protocol: MQTTProtocolVersion = MQTTProtocolVersion.MQTTv311) -> None:
        self.ours, self.theirs = socket.socketpair()
        self.ours.setblocking(False)
        self.client = IngestClient(CallbackAPIVersion.VERSION2, client_id="wire", protocol=protocol, manual_ack=True)
        self.client._sock = self.ours
        self.received: list[tuple[str, bytes, int]] = []
        self.messages: list[mqtt.MQTTMessage] = []
        self.disconnects = 0
        self.recvs = 0

        def on_message(client: mqtt.Client, userdata: Any, m: mqtt.MQTTMessage) -> None:
            self.received.append((m.topic, bytes(m.payload), m.mid))
            self.messages.append(m)

        self.client.on_message = on_message
        self.client.on_disconnect = lambda *args: setattr(self, "disconnects", self.disconnects + 1)
        real_recv = self.client._sock_recv

        def counting_recv(size: int) -> bytes:
            self.recvs += 1
            return real_recv(size)

        self.client._sock_recv = counting_recv  # type: ignore[method-assign]

    def close(self) -> None:
        self.ours.close()
        self.theirs.close()


@pytest.fixture
def wire() -> Iterator[Wire]:
    w = Wire()
    yield w
    w.close()


@pytest.fixture
def wire5() -> Iterator[Wire]:
    w = Wire(MQTTProtocolVersion.MQTTv5)
    yield w
    w.close()


def test_one_read_delivers_every_whole_packet_already_received(wire):
    # Given three packets that arrived together
    wire.theirs.sendall(b"".join(publish_packet("t/obs", b"m%d" % i, i) for i in (1, 2, 3)))

    # When the loop reads once (as it does after one socket event)
    assert wire.client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS

    # Then all three are delivered: none waits in the buffer for an event that may never come
    assert wire.received == [("t/obs", b"m1", 1), ("t/obs", b"m2", 2), ("t/obs", b"m3", 3)]


def test_a_burst_of_packets_is_read_with_one_recv_not_several_per_packet(wire):
    wire.theirs.sendall(b"".join(publish_packet("t/obs", b"x" * 300, i) for i in range(1, 101)))

    wire.client.loop_read()

    assert len(wire.received) == 100
    assert wire.recvs <= 2  # paho alone: a recv per header byte, per length byte and per body


def test_packets_split_at_any_byte_are_reassembled(wire):
    # A 2-byte remaining length (body > 127 bytes) followed by a short packet.
    packets = [publish_packet("t/obs", b"a" * 200, 7), publish_packet("t/obs", b"bc", 8)]
    data = b"".join(packets)
    for split in range(1, len(data)):
        wire.theirs.sendall(data[:split])
        wire.client.loop_read()
        wire.theirs.sendall(data[split:])
        wire.client.loop_read()

        assert wire.received == [("t/obs", b"a" * 200, 7), ("t/obs", b"bc", 8)], f"split at byte {split}"
        wire.received.clear()


def test_a_packet_larger_than_the_read_buffer_arrives_whole(wire):
    payload = bytes(range(256)) * 1200  # 300 KiB: many reads, more than one loop_read
    writer = threading.Thread(target=wire.theirs.sendall, args=(publish_packet("t/obs", payload, 9),))
    writer.start()
    while not wire.received:
        assert wire.client._sock is not None
        select.select([wire.ours], [], [], 5)
        wire.client.loop_read()
    writer.join()

    assert wire.received == [("t/obs", payload, 9)]


def test_a_closed_connection_is_noticed_after_the_packets_before_it(wire):
    # Given a whole packet and half of the next, then the broker closes the connection
    whole, cut = publish_packet("t/obs", b"last", 1), publish_packet("t/obs", b"never", 2)
    wire.theirs.sendall(whole + cut[:5])
    wire.theirs.close()

    wire.client.loop_read()
    assert wire.received == [("t/obs", b"last", 1)]

    # The close is a socket event of its own, so the loop reads again and notices it.
    assert select.select([wire.ours], [], [], 0)[0]
    assert wire.client.loop_read() == MQTTErrorCode.MQTT_ERR_CONN_LOST
    assert wire.disconnects == 1
    assert wire.client._sock is None
    assert not wire.client._inbuf, "bytes of a dead connection must not be read as the next one's"


def test_a_remaining_length_of_five_bytes_is_a_protocol_error(wire):
    wire.theirs.sendall(bytes([0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]))

    assert wire.client.loop_read() == MQTTErrorCode.MQTT_ERR_PROTOCOL
    assert wire.received == []


# --- MQTT 5 packets decoded without paho's property objects --------------------------------------


@pytest.mark.parametrize(
    ("flags", "payload", "topic"),
    [
        (0x02, b'{"msg_id":"a"}', "vw/v1/devices/d1/obs"),
        (0x0A, b"x" * 300, "vw/v1/devices/d1/obs"),  # DUP set: a redelivery
        (0x03, b"", "vw/v1/devices/d1/status"),  # RETAIN set, empty payload
        (0x02, bytes(range(256)), "t/" + "é" * 150),  # a topic and a length past one byte
    ],
    ids=["plain", "dup", "retained-empty", "long-utf8-topic"],
)
def test_an_mqtt5_qos1_publish_without_properties_is_delivered_as_paho_decodes_it(
    wire5, monkeypatch, flags, payload, topic
):
    from paho.mqtt import _packet

    expected = _packet.decode_publish(0x30 | flags, v5_publish_body(topic, payload, 4242, flags=flags), 5)
    calls = []
    monkeypatch.setattr(_packet, "decode_publish", lambda *args: calls.append(args))
    wire5.theirs.sendall(v5_publish_packet(topic, payload, 4242, flags=flags))

    assert wire5.client.loop_read() == MQTTErrorCode.MQTT_ERR_SUCCESS

    [message] = wire5.messages
    assert calls == [], "paho's decoder was used: the fast path was not taken"
    assert (message.topic, message.payload, message.mid) == (topic, payload, 4242)
    assert (message.dup, message.qos, message.retain) == (expected.dup, 1, expected.retain)
    assert message.topic.encode() == expected.topic and message.payload == expected.payload
    assert message.properties is None
    assert message.timestamp > 0


def test_an_mqtt5_publish_with_properties_is_decoded_by_paho_with_them(wire5):
    content_type = b"\x03" + struct.pack("!H", 16) + b"application/json"  # property 3: Content Type
    wire5.theirs.sendall(v5_publish_packet("vw/v1/devices/d1/obs", b"{}", 7, properties=content_type))

    wire5.client.loop_read()

    [message] = wire5.messages
    assert (message.topic, message.payload, message.mid) == ("vw/v1/devices/d1/obs", b"{}", 7)
    assert message.properties.ContentType == "application/json"


@pytest.mark.parametrize(("flags", "qos"), [(0x00, 0), (0x04, 2)], ids=["qos0", "qos2"])
def test_other_qualities_of_service_are_paho_s_own(wire5, flags, qos):
    wire5.theirs.sendall(v5_publish_packet("t/x", b"body", 9, flags=flags))

    wire5.client.loop_read()

    if qos == 0:
        [message] = wire5.messages
        assert (message.payload, message.qos) == (b"body", 0)
        assert message.properties is not None  # paho's decoding, not the fast path
    else:
        # paho holds a QoS 2 message until PUBREL; it is in its store, decoded with properties
        assert wire5.client._in_messages[9].payload == b"body"


@pytest.mark.parametrize(
    "body",
    [
        struct.pack("!H", 3) + b"t/x" + struct.pack("!H", 1),  # ends before its property length
        struct.pack("!H", 40) + b"t/x",  # the topic runs past the packet
        b"\x00",  # not even a topic length
    ],
    ids=["no-property-length", "topic-past-the-end", "one-byte"],
)
def test_a_truncated_mqtt5_publish_is_a_protocol_error_and_delivers_nothing(wire5, body):
    wire5.theirs.sendall(bytes([0x32]) + remaining_length(len(body)) + body)

    assert wire5.client.loop_read() == MQTTErrorCode.MQTT_ERR_PROTOCOL
    assert wire5.received == []


def test_while_paho_logs_every_publish_goes_through_paho_so_its_debug_lines_are_kept(wire5):
    lines: list[str] = []
    wire5.client.on_log = lambda client, userdata, level, line: lines.append(line)
    wire5.theirs.sendall(v5_publish_packet("t/x", b"body", 3))

    wire5.client.loop_read()

    assert wire5.messages[0].properties is not None
    assert any("Received PUBLISH" in line for line in lines)


def test_the_paho_methods_it_overrides_still_have_the_signatures_it_was_written_for():
    expected = {
        "loop_read": "(self, max_packets: 'int' = 1) -> 'MQTTErrorCode'",
        "loop_start": "(self) -> 'MQTTErrorCode'",
        "_packet_read": "(self) -> 'MQTTErrorCode'",
        "_packet_queue": "(self, command: 'int', packet: 'bytes | bytearray', mid: 'int', qos: 'int', "
        "info: 'MQTTMessageInfo | None' = None) -> 'MQTTErrorCode'",
        "_packet_write": "(self) -> 'MQTTErrorCode'",
        "_sock_close": "(self) -> 'None'",
        "_create_socket": "(self) -> 'SocketLike'",
        "_sock_recv": "(self, bufsize: 'int') -> 'bytes'",
        "_sock_send": "(self, buf: 'bytes | bytearray') -> 'int'",
        "_handle_publish": "(self) -> 'MQTTErrorCode'",
        "_handle_pubackcomp": "(self, cmd: \"Literal['PUBACK', 'PUBCOMP']\") -> 'MQTTErrorCode'",
        "_update_inflight": "(self) -> 'MQTTErrorCode'",
        "_do_on_publish": "(self, mid: 'int', reason_code: 'ReasonCode', properties: 'Properties') -> 'MQTTErrorCode'",
    }
    found = {name: str(inspect.signature(getattr(mqtt.Client, name))) for name in expected}
    assert found == expected, "paho changed: re-check IngestClient against its new source"


# --- through the broker ----------------------------------------------------------------------------


class Rig:
    """Transports and a device client on topics of this test's own."""

    def __init__(self, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        self.url = url
        self.run = uuid.uuid4().hex[:10]
        monkeypatch.setattr(mqtt_transport, "DEVICE_TOPICS", (f"vwtest/{self.run}/+/obs",))
        self.transports: list[MqttTransport] = []
        self.client_ids: set[str] = set()
        self.replies: dict[bytes, int] = {}
        self.replied = threading.Condition()
        parts = urlsplit(url)
        self.device = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"vwtest-dev-{self.run}")
        self.device.max_inflight_messages_set(100)
        self.device.on_message = self._on_reply
        subscribed = threading.Event()
        self.device.on_subscribe = lambda *args: subscribed.set()
        self.device.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.device.loop_start()
        self.device.subscribe(f"vwtest/{self.run}/+/ack", qos=1)
        assert subscribed.wait(10), "the device client could not subscribe"

    def transport(
        self,
        deliver: Callable[[Received], None],
        *,
        client_id: str = "",
        url: str = "",
        ca_file: str = "",
        publish_window: int = 1000,
    ) -> MqttTransport:
        client_id = client_id or f"vwtest-ingest-{self.run}"
        config = TransportConfig(
            url=url or self.url,
            client_id=client_id,
            share_group="",
            session_expiry_s=60,
            ca_file=ca_file,
            publish_window=publish_window,
        )
        transport = MqttTransport(config, deliver)
        self.transports.append(transport)
        self.client_ids.add(client_id)
        transport.start()
        assert transport.subscribed.wait(10), "the transport could not subscribe"
        return transport

    def publish(self, payloads: list[bytes]) -> None:
        infos = [self.device.publish(f"vwtest/{self.run}/dev{i % 3}/obs", p, qos=1) for i, p in enumerate(payloads)]
        for info in infos:
            info.wait_for_publish(30)

    def _on_reply(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self.replied:
            self.replies[bytes(message.payload)] = self.replies.get(bytes(message.payload), 0) + 1
            self.replied.notify_all()

    def wait_replies(self, expected: set[bytes], timeout: float = 30) -> None:
        with self.replied:
            done = self.replied.wait_for(lambda: expected <= self.replies.keys(), timeout)
            assert done, f"missing replies: {sorted(expected - self.replies.keys())[:10]}"

    def close(self) -> None:
        for transport in self.transports:
            transport.stop()
        self.device.disconnect()
        self.device.loop_stop()
        for client_id in self.client_ids:
            forget_mqtt_session(self.url, client_id)


@pytest.fixture
def rig(mqtt_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rig]:
    r = Rig(mqtt_url, monkeypatch)
    yield r
    r.close()


def numbered(i: int, size: int = 300) -> bytes:
    return b"%06d" % i + bytes([i % 251]) * (size - 6)


def reply_topic(received: Received) -> str:
    return received.topic.rsplit("/", 1)[0] + "/ack"


def answer(transport: MqttTransport, batch: list[Received]) -> list[bool]:
    """What the ingest worker does after commit: reply to each message, then ack it."""
    acked = []
    for received in batch:
        transport.publish(reply_topic(received), received.payload[:6])
        acked.append(transport.ack(received.token))
    return acked


def take(inbox: queue.Queue[Received], count: int, timeout: float = 30) -> list[Received]:
    return [inbox.get(timeout=timeout) for _ in range(count)]


class Answerer(threading.Thread):
    """A worker thread answering ``count`` messages in batches of up to 20, as they come."""

    def __init__(self, transport: MqttTransport, inbox: queue.Queue[Received], count: int) -> None:
        super().__init__(daemon=True)
        self.transport, self.inbox, self.count = transport, inbox, count
        self.seen: list[Received] = []
        self.refused = 0

    def run(self) -> None:
        while len(self.seen) < self.count:
            batch = [self.inbox.get(timeout=30)]
            while len(batch) < 20 and not self.inbox.empty():
                batch.append(self.inbox.get())
            self.seen.extend(batch)
            self.refused += answer(self.transport, batch).count(False)


def assert_nothing_left_unacknowledged(rig: Rig, transport: MqttTransport) -> None:
    """After a restart on the same session, the first message is a new one, not a redelivery."""
    transport.stop()
    inbox: queue.Queue[Received] = queue.Queue()
    rig.transport(inbox.put, client_id=transport.config.client_id)
    sentinel = b"sentinel-" + uuid.uuid4().hex.encode()
    rig.publish([sentinel])
    assert inbox.get(timeout=10).payload == sentinel


def mixed_burst(count: int) -> list[bytes]:
    sizes = {count // 4: BIG[0], count // 2: BIG[1], 3 * count // 4: BIG[2]}
    return [numbered(i, sizes.get(i, 300)) for i in range(count)]


@pytest.mark.parametrize("recv_bytes", [mqtt_client.RECV_BYTES, 7], ids=["64KiB-reads", "7-byte-reads"])
def test_a_fast_burst_with_large_payloads_arrives_whole_and_is_all_answered(rig, monkeypatch, recv_bytes):
    # 7-byte reads split every packet, header included, across reads.
    monkeypatch.setattr(mqtt_client, "RECV_BYTES", recv_bytes)
    payloads = mixed_burst(400)
    inbox: queue.Queue[Received] = queue.Queue()
    transport = rig.transport(inbox.put)
    worker = Answerer(transport, inbox, len(payloads))
    worker.start()

    rig.publish(payloads)
    rig.wait_replies({p[:6] for p in payloads})

    assert sorted(r.payload for r in worker.seen) == sorted(payloads)
    for device in ("dev0", "dev1", "dev2"):  # each topic in the order it was published
        in_order = [r.payload for r in worker.seen if f"/{device}/" in r.topic]
        assert in_order == [p for i, p in enumerate(payloads) if f"dev{i % 3}" == device]
    assert worker.refused == 0
    assert_nothing_left_unacknowledged(rig, transport)


class CountingPair:
    """Stands in for paho's wake-up socket and counts the bytes written to it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.sends = sock, 0

    def send(self, data: bytes) -> int:
        self.sends += 1
        return self.sock.send(data)

    def close(self) -> None:
        self.sock.close()


def count_sends(client: mqtt.Client) -> list[int]:
    sends = [0]
    real_send = client._sock_send

    def counting_send(data: bytes | bytearray) -> int:
        sends[0] += 1
        return real_send(data)

    client._sock_send = counting_send  # type: ignore[method-assign]
    return sends


def test_packets_queued_while_the_loop_is_busy_wake_it_once_and_leave_in_one_send(rig):
    # Given the network thread busy inside a callback
    entered, release = threading.Event(), threading.Event()
    inbox: queue.Queue[Received] = queue.Queue()

    def slow_deliver(received: Received) -> None:
        inbox.put(received)
        entered.set()
        release.wait(10)

    transport = rig.transport(slow_deliver)
    client = transport._client
    wakes = client._sockpairW = CountingPair(client._sockpairW)
    rig.publish([numbered(0)])
    assert entered.wait(10)
    sends = count_sends(client)

    # When another thread queues fifteen replies and an ack (under paho's in-flight limit of 20)
    for i in range(1, 16):
        transport.publish(f"vwtest/{rig.run}/dev0/ack", b"%06d" % i)
    transport.ack(inbox.get().token)
    release.set()

    # Then one byte woke the loop, and the sixteen packets left in one send
    rig.wait_replies({b"%06d" % i for i in range(1, 16)})
    assert wakes.sends <= 1
    assert sends[0] == 1


def broker_receive_maximum(url: str) -> int | None:
    """The Receive Maximum the broker states to an MQTT 5 client (65,535 if it states none)."""
    parts = urlsplit(url)
    probe = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"vwtest-probe-{uuid.uuid4().hex[:8]}", protocol=5)
    stated: queue.Queue[int] = queue.Queue()
    probe.on_connect = lambda c, u, f, reason, props: stated.put(getattr(props, "ReceiveMaximum", 65_535))
    probe.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    probe.loop_start()
    try:
        return stated.get(timeout=10)
    finally:
        probe.disconnect()
        probe.loop_stop()


@pytest.mark.parametrize("wanted", [3, 700])
def test_the_publish_window_is_the_wanted_one_within_the_broker_s_receive_maximum(rig, wanted):
    transport = rig.transport(queue.Queue().put, publish_window=wanted)

    window = transport._client._max_inflight_messages

    if transport.protocol == "5":
        assert window == min(wanted, broker_receive_maximum(rig.url))
    else:
        assert window == wanted  # MQTT 3.1.1 states no limit


@pytest.mark.parametrize("window", [3, 1000])
def test_more_replies_than_the_window_all_leave_and_every_puback_is_taken_without_paho_s_decoder(
    rig, monkeypatch, window
):
    from paho.mqtt import _packet

    decoded: list[Any] = []
    real_decode = _packet.decode_puback
    monkeypatch.setattr(_packet, "decode_puback", lambda *args: decoded.append(args) or real_decode(*args))
    transport = rig.transport(queue.Queue().put, publish_window=window)
    client = transport._client
    published: queue.Queue[tuple[int, bool]] = queue.Queue()
    client.on_publish = lambda c, u, mid, reason, props: published.put((mid, reason.is_failure))

    # When a batch's worth of replies is published at once, past the window
    replies = {b"%06d" % i for i in range(300)}
    for reply in sorted(replies):
        transport.publish(f"vwtest/{rig.run}/dev0/ack", reply)

    # Then every one reaches the device, each PUBACK of success is taken as one, and nothing
    # is left waiting: queued replies went out as PUBACKs freed the window
    rig.wait_replies(replies)
    outcomes = [published.get(timeout=10) for _ in replies]
    assert not any(failure for _, failure in outcomes)
    assert len({mid for mid, _ in outcomes}) == len(replies)
    with client._out_message_mutex:
        assert (len(client._out_messages), client._inflight_messages) == (0, 0)
    assert decoded == [], "a two-byte PUBACK went through paho's decoder"


def test_publish_window_for_honours_the_broker_only_under_mqtt5():
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    stated = Properties(PacketTypes.CONNACK)
    stated.ReceiveMaximum = 20
    silent = Properties(PacketTypes.CONNACK)

    assert mqtt_transport.publish_window_for("5", stated, 1000) == 20
    assert mqtt_transport.publish_window_for("5", stated, 10) == 10
    assert mqtt_transport.publish_window_for("5", silent, 1000) == 1000
    assert mqtt_transport.publish_window_for("5", silent, 100_000) == 65_535  # the MQTT 5 default
    assert mqtt_transport.publish_window_for("3.1.1", None, 1000) == 1000


def test_a_window_below_one_is_refused_because_it_would_stop_every_publish():
    client = IngestClient(CallbackAPIVersion.VERSION2, client_id="window")
    with pytest.raises(ValueError, match="stop every QoS 1 publish"):
        mqtt_client.set_publish_window(client, 0)


def test_a_connection_lost_while_a_batch_is_answered_loses_no_reply_and_acks_nothing_across_it(rig):
    if not settings.MQTT_URL:
        pytest.skip("the embedded amqtt broker does not redeliver to a resumed session")
    hold = b"hold-the-network-thread"
    entered, release, lost = threading.Event(), threading.Event(), threading.Event()
    inbox: queue.Queue[Received] = queue.Queue()

    def deliver(received: Received) -> None:
        inbox.put(received)
        if received.payload == hold and not entered.is_set():
            entered.set()
            release.wait(10)

    transport = rig.transport(deliver)
    client = transport._client
    on_disconnect = client.on_disconnect

    def noting_disconnect(*args: Any) -> None:
        on_disconnect(*args)
        lost.set()

    client.on_disconnect = noting_disconnect
    rig.publish([numbered(i) for i in range(10)])
    first = take(inbox, 10)

    # Given half the batch answered while the network thread is busy, so none of it is sent yet,
    rig.publish([hold])
    assert entered.wait(10)
    assert inbox.get().payload == hold
    for received in first[:5]:
        transport.publish(reply_topic(received), received.payload[:6])
        assert transport.ack(received.token)
    # when the connection drops
    client._sock.shutdown(socket.SHUT_RDWR)
    release.set()
    assert lost.wait(10)
    # and the other half is answered while disconnected,
    for received in first[5:]:
        transport.publish(reply_topic(received), received.payload[:6])
    refused = [transport.ack(received.token) for received in first[5:]]

    # then acks of the lost connection are refused, every reply goes out after reconnecting,
    assert refused == [False] * 5
    rig.wait_replies({r.payload[:6] for r in first})
    # and the broker redelivers everything unacknowledged, which the new connection acks.
    sentinel = b"sentinel-" + uuid.uuid4().hex.encode()
    rig.publish([sentinel])
    redelivered = []
    while (received := inbox.get(timeout=10)).payload != sentinel:
        redelivered.append(received)
    assert sorted(r.payload[:10] for r in redelivered) == sorted([*(r.payload[:10] for r in first), hold[:10]])
    assert all(answer(transport, [*redelivered, received]))
    assert_nothing_left_unacknowledged(rig, transport)


def test_stopping_right_after_acking_while_messages_still_arrive_keeps_every_ack(rig):
    inbox: queue.Queue[Received] = queue.Queue()
    transport = rig.transport(inbox.put)
    rig.publish([numbered(i) for i in range(50)])
    batch = take(inbox, 50)

    # More messages are on their way in when the batch is acked and the transport stopped
    # (closing over unread bytes resets the connection, which can take the last acks with it).
    later = [rig.device.publish(f"vwtest/{rig.run}/dev1/obs", numbered(100 + i), qos=1) for i in range(200)]
    assert all(transport.ack(received.token) for received in batch)
    transport.stop()

    for info in later:
        info.wait_for_publish(10)
    inbox = queue.Queue()
    rig.transport(inbox.put, client_id=transport.config.client_id)
    sentinel = b"sentinel-" + uuid.uuid4().hex.encode()
    rig.publish([sentinel])
    after_restart = []
    while (received := inbox.get(timeout=10)).payload != sentinel:
        after_restart.append(received.payload[:6])
    assert not {r.payload[:6] for r in batch} & set(after_restart), "acked messages came again"


def test_stop_ends_the_network_thread(rig):
    transport = rig.transport(lambda received: None)
    thread = transport._client._thread

    transport.stop()

    assert thread is not None and not thread.is_alive()


# --- TLS -----------------------------------------------------------------------------------------------


@pytest.fixture
def tls_broker(mqtt_url: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A TLS front for the broker (asyncio terminates TLS and relays bytes): (mqtts URL, CA file)."""
    cert_file, key_file = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    upstream = urlsplit(mqtt_url)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(upstream.hostname, upstream.port or 1883)
        await asyncio.gather(relay(reader, up_writer), relay(up_reader, writer), return_exceptions=True)

    server = asyncio.run_coroutine_threadsafe(asyncio.start_server(handle, "127.0.0.1", 0, ssl=context), loop).result()
    port = server.sockets[0].getsockname()[1]
    yield f"mqtts://127.0.0.1:{port}", str(cert_file)

    async def shut() -> None:
        server.close()
        for task in asyncio.all_tasks():
            if task is not asyncio.current_task():
                task.cancel()

    asyncio.run_coroutine_threadsafe(shut(), loop).result()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "broker.pem", directory / "broker.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@pytest.mark.parametrize("recv_bytes", [mqtt_client.RECV_BYTES, 1000], ids=["64KiB-reads", "1000-byte-reads"])
def test_over_tls_a_fast_burst_arrives_whole_and_is_all_answered(rig, tls_broker, monkeypatch, recv_bytes):
    # 1000-byte reads leave most of each TLS record inside the SSL object, where select() cannot
    # see it: only the pending() check gets it read.
    monkeypatch.setattr(mqtt_client, "RECV_BYTES", recv_bytes)
    url, ca_file = tls_broker
    payloads = mixed_burst(300)
    inbox: queue.Queue[Received] = queue.Queue()
    transport = rig.transport(inbox.put, url=url, ca_file=ca_file)
    assert isinstance(transport._client._sock, ssl.SSLSocket)
    worker = Answerer(transport, inbox, len(payloads))
    worker.start()

    rig.publish(payloads)
    rig.wait_replies({p[:6] for p in payloads})

    assert sorted(r.payload for r in worker.seen) == sorted(payloads)
    assert worker.refused == 0
