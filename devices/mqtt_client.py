"""paho-mqtt's client with its socket I/O done in bulk, for the ingest transport.

The protocol handling stays paho's own; only how bytes reach and leave the socket changes
(docs/ingest.md, "Socket I/O"). :mod:`devices.mqtt_transport` runs it.
"""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections import deque
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode, MQTTProtocolVersion, _ConnectionState
from paho.mqtt.exception import MalformedPacket
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

RECV_BYTES = 64 * 1024  # one recv() takes in a burst of packets
RECVS_PER_READ = 16  # then the loop gets to write and keep alive, even under a flood
WRITE_BYTES = 64 * 1024  # packets joined into one send()

# What paho builds afresh for every PUBACK that carries neither (never changed once built; the
# transport sets no on_publish, the only place paho hands them on).
_PUBACK_SUCCESS = ReasonCode(PacketTypes.PUBACK, "Success")
_NO_PUBACK_PROPERTIES = Properties(PacketTypes.PUBACK)


def _needs_paho(packet: Any) -> bool:
    """Packets that paho acts on once sent: a QoS 0 publish (on_publish) and DISCONNECT."""
    command = packet["command"] & 0xF0
    return command == mqtt.DISCONNECT or (command == mqtt.PUBLISH and packet["qos"] == 0)


def set_publish_window(client: mqtt.Client, window: int) -> None:
    """How many QoS 1 publishes may await their PUBACK, set from ``on_connect`` as well.

    paho's setter refuses a connected client, but MQTT 5's limit, the broker's Receive Maximum,
    is only known from CONNACK; ``on_connect`` runs before paho sends what the last connection
    left unacknowledged, so a window set there governs those too.
    """
    if window < 1:
        raise ValueError(f"a publish window of {window} would stop every QoS 1 publish")
    client._max_inflight_messages = window


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

    # --- decoding (network thread) ---------------------------------------------------------------

    def _handle_publish(self) -> MQTTErrorCode:
        packet = self._in_packet
        command, body = packet["command"], packet["packet"]
        if (command & 0x06) != 0x02 or self._protocol != MQTTProtocolVersion.MQTTv5 or self._logging():
            return super()._handle_publish()
        size = len(body)
        topic_end = 2 + ((body[0] << 8) | body[1]) if size >= 2 else size
        properties_at = topic_end + 2
        # A property length of 0 is the single byte 0; a topic alias, say, has to be decoded.
        if topic_end == 2 or properties_at >= size or body[properties_at] != 0:
            return super()._handle_publish()
        mid = (body[topic_end] << 8) | body[topic_end + 1]
        message = mqtt.MQTTMessage(mid=mid, topic=bytes(body[2:topic_end]))
        message.dup = bool(command & 0x08)
        message.qos = 1
        message.retain = bool(command & 0x01)
        message.payload = bytes(body[properties_at + 1 :])
        message.timestamp = mqtt.time_func()
        self._handle_on_message(message)
        if self._manual_ack:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return self._send_puback(mid)

    def _handle_pubackcomp(self, cmd: str) -> MQTTErrorCode:  # type: ignore[override]
        body = self._in_packet["packet"]
        if cmd != "PUBACK" or len(body) != 2 or self._logging():
            return super()._handle_pubackcomp(cmd)  # type: ignore[arg-type]
        mid = (body[0] << 8) | body[1]
        with self._out_message_mutex:
            if mid in self._out_messages:
                return self._do_on_publish(mid, _PUBACK_SUCCESS, _NO_PUBACK_PROPERTIES)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _update_inflight(self) -> MQTTErrorCode:
        # Every message in _out_messages is either in flight or queued (or a QoS 0 one not yet
        # written): when all are in flight there is nothing to send, and paho's walk over them,
        # on every PUBACK, would find nothing. With a window of hundreds that walk was quadratic.
        if len(self._out_messages) <= self._inflight_messages:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return super()._update_inflight()

    def _logging(self) -> bool:
        return self._logger is not None or self._on_log is not None

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
