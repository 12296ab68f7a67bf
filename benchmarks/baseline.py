"""The baseline: a bare paho subscriber writing observations to PostgreSQL with COPY.

It is what anyone would write in an afternoon with no platform at all — parse the JSON, COPY the
readings in batches, acknowledge after commit — and it keeps the platform's delivery promise
(the MQTT ack and the device ack only after the commit) so the comparison is like for like.
No validation, no idempotency, no scoring: the ratio of the platform's sustained rate to this
one is the price of everything the platform adds.

    python -m benchmarks.baseline --database-url postgres://... --mqtt-url mqtt://...
"""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from benchmarks.fleet import no_delay
from devices.mqtt_client import set_publish_window
from devices.mqtt_transport import publish_window_for
from virtualward.interpreter import set_switch_interval

TABLE = "bench_baseline_observation"
COLUMNS = "device_id, msg_id, idx, type, value, code, unit, measured_at, received_at"
BASELINE_ROOT = "vwbench/v1/devices/"
RECEIVE_MAXIMUM = 1000


@dataclass(frozen=True, slots=True)
class Delivery:
    mid: int
    qos: int
    topic: str
    payload: bytes
    received_at: datetime


def ensure_table(conn: psycopg.Connection) -> None:
    with conn.transaction():
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} (device_id text NOT NULL, msg_id text NOT NULL, "
            "idx integer NOT NULL, type text NOT NULL, value double precision, code text, unit text, "
            "measured_at timestamptz NOT NULL, received_at timestamptz NOT NULL)"
        )


def _device_of(topic: str) -> str:
    # <root><device_id>/obs
    return topic.rsplit("/", 2)[-2]


def rows_of(delivery: Delivery) -> tuple[str | None, list[tuple]]:
    """(msg_id, rows) for one message; a message that is not usable JSON gives (None, [])."""
    try:
        body = json.loads(delivery.payload)
        msg_id, items = body["msg_id"], body["observations"]
    except (ValueError, TypeError, KeyError):
        return None, []
    device_id, rows = _device_of(delivery.topic), []
    for index, item in enumerate(items):
        value = item.get("value")
        code = value if isinstance(value, str) else None
        number = float(value) if isinstance(value, int | float) else None
        rows.append(
            (
                device_id,
                msg_id,
                index,
                item.get("type"),
                number,
                code,
                item.get("unit"),
                item.get("measured_at"),
                delivery.received_at,
            )
        )
    return msg_id, rows


def write_batch(conn: psycopg.Connection, deliveries: Iterable[Delivery]) -> list[tuple[Delivery, str | None, int]]:
    """COPY the batch's observations in one transaction; (delivery, msg_id, rows written) each."""
    outcomes = []
    with conn.transaction(), conn.cursor() as cursor, cursor.copy(f"COPY {TABLE} ({COLUMNS}) FROM STDIN") as copy:
        for delivery in deliveries:
            msg_id, rows = rows_of(delivery)
            for row in rows:
                copy.write_row(row)
            outcomes.append((delivery, msg_id, len(rows)))
    return outcomes


class BaselineSubscriber:
    def __init__(self, *, database_url: str, mqtt_url: str, batch_size: int, batch_ms: int) -> None:
        self.database_url, self.mqtt_url = database_url, mqtt_url
        self.batch_size, self.batch_s = batch_size, batch_ms / 1000.0
        self.inbox: queue.Queue[Delivery] = queue.Queue()
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id="bench-baseline", protocol=mqtt.MQTTv5, manual_ack=True
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *args: self.ready.set()
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        no_delay(client)
        # Like the platform's ingest (mqtt_transport.publish_window_for): a batch's device acks
        # may all await their PUBACK at once, within the broker's Receive Maximum.
        set_publish_window(client, publish_window_for("5", properties, RECEIVE_MAXIMUM))
        client.subscribe(f"{BASELINE_ROOT}+/obs", qos=1)

    def _on_message(self, client, userdata, message) -> None:
        # Paho's network thread only queues: the database is the writer thread's business.
        self.inbox.put(Delivery(message.mid, message.qos, message.topic, message.payload, datetime.now(UTC)))

    def _next_batch(self) -> list[Delivery]:
        try:
            batch = [self.inbox.get(timeout=0.2)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.batch_s
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self.inbox.get(timeout=remaining) if remaining > 0 else self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def _acknowledge(self, outcomes: list[tuple[Delivery, str | None, int]]) -> None:
        for delivery, msg_id, written in outcomes:
            self.client.ack(delivery.mid, delivery.qos)
            if msg_id is not None:
                ack = json.dumps({"msg_id": msg_id, "accepted": written, "rejected": []}).encode()
                self.client.publish(f"{delivery.topic[: -len('obs')]}ack", ack, qos=1)

    def run(self) -> None:
        parts = urlsplit(self.mqtt_url)
        if parts.username:
            self.client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
        with psycopg.connect(self.database_url) as conn:
            ensure_table(conn)
            # The same flow-control window the platform's ingest asks for, so neither is starved.
            properties = Properties(PacketTypes.CONNECT)
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
            self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=30, properties=properties)
            self.client.loop_start()
            if self.ready.wait(10):
                print("baseline ready", flush=True)
            while not self.stopping.is_set():
                batch = self._next_batch()
                if batch:
                    self._acknowledge(write_batch(conn, batch))
            self.client.disconnect()
            self.client.loop_stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--mqtt-url", required=True)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--batch-ms", type=int, default=20)
    parser.add_argument("--switch-interval-us", type=int, default=5000)
    args = parser.parse_args(argv)
    # Like the platform's ingest: paho's network thread and the batch loop share the interpreter.
    try:
        set_switch_interval(args.switch_interval_us)
    except ValueError as exc:
        parser.error(f"--switch-interval-us {exc}")
    subscriber = BaselineSubscriber(
        database_url=args.database_url, mqtt_url=args.mqtt_url, batch_size=args.batch_size, batch_ms=args.batch_ms
    )
    signal.signal(signal.SIGTERM, lambda *args: subscriber.stopping.set())
    signal.signal(signal.SIGINT, lambda *args: subscriber.stopping.set())
    subscriber.run()
    sys.exit(0)


if __name__ == "__main__":
    main()
