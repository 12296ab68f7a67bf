"""The device fleet: publishes one paced step of `obs` messages and times each `ack`.

Runs in processes of its own (no Django here) so the publishers' CPU is not shared with the
process polling the database. Each publisher holds one MQTT connection for its share of the
devices, as a home gateway would; per-device connections would measure the broker's connection
handling, not ingest. A step gets one publisher per RATE_PER_PUBLISHER messages/s, all on one
schedule (``split_plan``), so the load generator is not what caps a step.
The platform sends a device's ack only after the message is committed, so ack arrival minus
publish time is publish-to-stored latency, measured without touching the database. Like every
device (protocol v1, "Delivery"), the fleet keeps each message in an outbox
(``devices/outbox.py``) until its ack arrives and resends it, same msg_id, when none comes.
"""

from __future__ import annotations

import json
import math
import os
import random
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt

from benchmarks.messages import (
    alert_readings,
    elevated_readings,
    encode_msg_id,
    obs_payload,
    ordinary_readings,
    rfc3339,
)
from benchmarks.pacing import PacingReport, message_count, paced
from devices.mqtt_tls import ClientTls, client_tls_configure
from devices.outbox import ACK_TIMEOUT_S, Outbox, publish_due

# Progress check while draining: give up once nothing has been acknowledged for this long.
_STALL_S = 10.0
# How often, in messages, the publisher looks for messages due to be resent.
_RESEND_CHECK_EVERY = 100

# paho is pure Python: a QoS 1 message costs the fleet four packets (its PUBLISH, the broker's
# PUBACK, the device ack and our PUBACK for that), about 250 µs of one core. One publisher at
# 3,000 msg/s needed three quarters of a core on a quiet machine, and fell behind its schedule
# as soon as the system under test took the CPU; one per 1,000 msg/s keeps each well clear.
RATE_PER_PUBLISHER = 1000.0


@dataclass(frozen=True)
class StepPlan:
    mqtt_url: str
    topic_root: str  # "vw/v1/devices/" for the platform, another root for the baseline
    tag: str
    device_ids: tuple[str, ...]
    alert_device_ids: tuple[str, ...]
    rate: float
    seconds: float
    drain_timeout_s: float = 60.0
    seed: int = 1
    elevated_device_ids: frozenset[str] = frozenset()  # ordinary devices whose readings score 2
    start_at: float = 0.0  # epoch seconds message 0 is due; 0: as soon as connected
    share: int = 0  # this publisher's index: its message n is the step's n * shares + share
    shares: int = 1
    ack_timeout_s: float = ACK_TIMEOUT_S  # a device resends a message not acked by then


@dataclass
class StepOutcome:
    tag: str
    publishers: int = 1
    published: int = 0
    published_obs: int = 0
    first_publish_at: float = 0.0
    last_publish_at: float = 0.0
    max_lag_s: float = 0.0
    ack_latencies: list[float] = field(default_factory=list)
    # When each acknowledged message was published, in the order of ack_latencies.
    ack_published_at: list[float] = field(default_factory=list)
    acked_obs: int = 0
    last_ack_at: float | None = None
    unacked: int = 0
    refused: list[str] = field(default_factory=list)
    alert_published_at: dict[str, float] = field(default_factory=dict)
    resent: int = 0  # publishes of a message again, its ack not having come in time


def no_delay(client: mqtt.Client) -> None:
    """Send small packets at once: paho leaves Nagle on, and an ack would wait for the peer's ACK."""
    sock = client.socket()
    if sock is not None and hasattr(sock, "setsockopt"):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def publishers_for(rate: float) -> int:
    return max(1, math.ceil(rate / RATE_PER_PUBLISHER))


def publisher_ready(pause_s: float) -> int:
    """Run in each publisher process before the first step, so none is spawned mid-run."""
    time.sleep(pause_s)
    return os.getpid()


def elevated_devices(device_ids: tuple[str, ...], share: float) -> frozenset[str]:
    """``share`` of the devices, spread evenly through the list, that send elevated readings."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"the elevated share must be between 0 and 1 (got {share})")
    return frozenset(
        device for n, device in enumerate(device_ids) if math.floor((n + 1) * share) > math.floor(n * share)
    )


def split_plan(plan: StepPlan, publishers: int) -> list[StepPlan]:
    """One plan per publisher: a share of the devices and of the rate, on one interleaved schedule.

    Publisher k sends the step's messages k, k + K, k + 2K ... (its msg_ids say so), from its
    own devices, starting k / rate after the step's start: together they are one even stream.
    """
    count = max(1, min(publishers, len(plan.device_ids)))
    return [
        replace(
            plan,
            device_ids=plan.device_ids[k::count],
            alert_device_ids=plan.alert_device_ids[k::count],
            rate=plan.rate / count,
            start_at=plan.start_at + k / plan.rate if plan.start_at else 0.0,
            share=k,
            shares=count,
        )
        for k in range(count)
    ]


def merge_outcomes(outcomes: list[StepOutcome]) -> StepOutcome:
    """The step as a whole, from what each of its publishers saw."""
    merged = StepOutcome(tag=outcomes[0].tag, publishers=len(outcomes))
    for part in outcomes:
        merged.published += part.published
        merged.published_obs += part.published_obs
        merged.max_lag_s = max(merged.max_lag_s, part.max_lag_s)
        merged.ack_latencies.extend(part.ack_latencies)
        merged.ack_published_at.extend(part.ack_published_at)
        merged.acked_obs += part.acked_obs
        merged.unacked += part.unacked
        merged.refused.extend(part.refused)
        merged.resent += part.resent
        merged.alert_published_at.update(part.alert_published_at)
    started = [part.first_publish_at for part in outcomes if part.published]
    merged.first_publish_at = min(started, default=0.0)
    merged.last_publish_at = max(part.last_publish_at for part in outcomes)
    merged.last_ack_at = max((part.last_ack_at for part in outcomes if part.last_ack_at), default=None)
    return merged


def battery(device_id: str) -> int:
    """A steady charge per device: a battery that jumped on every message would make every
    message a device-state change, which no real fleet does."""
    return 60 + zlib.crc32(device_id.encode()) % 40


def alert_positions(total: int, alerts: int) -> dict[int, int]:
    """Sequence number → alert index, spread evenly through the step (none at the very edges)."""
    if alerts <= 0:
        return {}
    if alerts > total:
        raise ValueError(f"cannot place {alerts} alerts among {total} messages")
    return {int((index + 0.5) * total / alerts): index for index in range(alerts)}


class _AckBook:
    """What is awaiting an ack, filled by the publisher and emptied on paho's network thread."""

    def __init__(self, outcome: StepOutcome, outbox: Outbox | None = None) -> None:
        self.outcome = outcome
        self.outbox = outbox if outbox is not None else Outbox()
        self.pending: dict[str, tuple[float, int]] = {}
        self.subscribed = threading.Event()
        self.last_progress = time.monotonic()

    def expect(self, msg_id: str, published_at: float, obs_count: int, topic: str = "", payload: bytes = b"") -> None:
        """A message just published: awaited here for its latency, kept in the outbox for resending."""
        self.pending[msg_id] = (published_at, obs_count)
        if topic:
            self.outbox.add(msg_id, topic, payload, published=True)

    def on_ack(self, payload: bytes) -> None:
        arrived = time.time()
        try:
            body = json.loads(payload)
            msg_id = body["msg_id"]
        except (ValueError, TypeError, KeyError):
            return
        if not isinstance(msg_id, str) or msg_id not in self.pending:
            return  # another run's ack, or a redelivery's second one
        if body.get("error"):
            # Kept pending: another platform on the same broker (a test run's ingest) answers
            # "not registered" for our devices; only our platform's answer settles a message.
            if len(self.outcome.refused) < 20:
                self.outcome.refused.append(f"{msg_id}: {json.dumps(body)[:200]}")
            return
        published_at, obs_count = self.pending.pop(msg_id)
        self.outbox.settle(msg_id)
        self.last_progress = time.monotonic()
        if body.get("rejected") or body.get("accepted") != obs_count:
            self.outcome.refused.append(f"{msg_id}: {json.dumps(body)[:200]}")
            return
        self.outcome.ack_latencies.append(arrived - published_at)
        self.outcome.ack_published_at.append(published_at)
        self.outcome.acked_obs += obs_count
        self.outcome.last_ack_at = arrived


def _connect(plan: StepPlan, book: _AckBook) -> mqtt.Client:
    parts = urlsplit(plan.mqtt_url)
    client_id = f"bench-fleet-{plan.tag}-{plan.share}"
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.max_inflight_messages_set(200)
    if parts.username:
        client.username_pw_set(unquote(parts.username), unquote(parts.password or ""))
    if parts.scheme == "mqtts":  # TLS cost is part of what the bench measures (MQTT_CA_FILE)
        client_tls_configure(client, ClientTls.from_environ())

    def on_connect(client, userdata, flags, reason_code, properties):
        no_delay(client)
        # Only this publisher's devices: with a wildcard every publisher would receive, and
        # pay paho's cost for, every other publisher's acks too.
        devices = (*plan.device_ids, *plan.alert_device_ids)
        client.subscribe([(f"{plan.topic_root}{device_id}/ack", 1) for device_id in devices])

    def on_subscribe(*args):
        # Subscribed to the acks again on a new connection: what the old one carried goes out again.
        book.outbox.reconnected()
        book.subscribed.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = lambda client, userdata, message: book.on_ack(message.payload)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=30)
    client.loop_start()
    if not book.subscribed.wait(10):
        client.loop_stop()
        raise ConnectionError(f"no SUBACK from the broker at {parts.hostname}:{parts.port} within 10 s")
    return client


def _schedule_start(start_at: float) -> float | None:
    """The shared epoch start in this process's perf_counter terms (None: start now)."""
    return time.perf_counter() + (start_at - time.time()) if start_at else None


def _publish_all(plan: StepPlan, client: mqtt.Client, book: _AckBook) -> None:
    outcome, rng = book.outcome, random.Random(plan.seed * 1000 + plan.share)
    total = message_count(plan.rate, plan.seconds)
    alerts = alert_positions(total, len(plan.alert_device_ids))
    pacing = PacingReport()
    for local in paced(plan.rate, plan.seconds, pacing, start=_schedule_start(plan.start_at)):
        now = time.time()
        stamp = rfc3339(datetime.fromtimestamp(now, UTC))
        alert_index = alerts.get(local)
        if alert_index is None:
            device_id = plan.device_ids[local % len(plan.device_ids)]
            elevated = device_id in plan.elevated_device_ids
            readings = elevated_readings(rng, stamp) if elevated else ordinary_readings(rng, stamp)
        else:
            device_id = plan.alert_device_ids[alert_index]
            readings = alert_readings(stamp)
            outcome.alert_published_at[device_id] = now
        msg_id = encode_msg_id(plan.tag, local * plan.shares + plan.share, now)
        topic, payload = f"{plan.topic_root}{device_id}/obs", obs_payload(msg_id, stamp, battery(device_id), readings)
        book.expect(msg_id, now, len(readings), topic, payload)
        client.publish(topic, payload, 1)
        if local % _RESEND_CHECK_EVERY == 0:
            publish_due(book.outbox, client)
        outcome.published += 1
        outcome.published_obs += len(readings)
        outcome.first_publish_at = outcome.first_publish_at or now
        outcome.last_publish_at = now
    outcome.max_lag_s = pacing.max_lag_s


def _drain(plan: StepPlan, client: mqtt.Client, book: _AckBook) -> None:
    deadline = time.monotonic() + plan.drain_timeout_s
    book.last_progress = time.monotonic()
    while book.pending and time.monotonic() < deadline and time.monotonic() - book.last_progress < _STALL_S:
        publish_due(book.outbox, client)
        time.sleep(0.02)
    book.outcome.unacked = len(book.pending)
    book.outcome.resent = book.outbox.resends


def run_step(plan: StepPlan) -> StepOutcome:
    """Publish the plan's messages at its rate, then wait for their acks (one publisher's share)."""
    book = _AckBook(StepOutcome(tag=plan.tag), Outbox(ack_timeout_s=plan.ack_timeout_s))
    client = _connect(plan, book)
    try:
        _publish_all(plan, client, book)
        _drain(plan, client, book)
    finally:
        client.disconnect()
        client.loop_stop()
    return book.outcome
