"""A device's side of end-to-end delivery (protocol v1, "Delivery"): keep each message until acked.

The broker's PUBACK only says the broker has a message, and a broker that crashes can lose
messages it has PUBACKed. So a device keeps every ``obs`` message it publishes until the
platform's own ack for its ``msg_id`` arrives on the device's ``ack`` topic, and publishes the
same bytes again when none comes: after ``ack_timeout_s`` (30 s), then after twice that, and so
on up to ``max_backoff_s`` (5 minutes), each wait stretched by a random share of up to
``jitter`` so a ward's devices that lost the same broker do not all resend in one instant.
Every reconnect sends what is still waiting at once: the old connection may have taken it.

:class:`Outbox` is pure logic over an injected clock and random source (tests drive it with a
fake clock); :func:`publish_due` is the small adapter that hands its due messages to a paho
client. The simulator (``devices/simulator.py``) and the bench's fleet (``benchmarks/fleet.py``)
both use it. The platform answers a resend with the ack it stored the first time.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACK_TIMEOUT_S = 30.0
MAX_BACKOFF_S = 300.0
JITTER = 0.1
# An ack with this error asks for the message again (ingest could not store it); any other
# error refused the message whole, and sending it again would only be refused again.
RETRY_LATER_PREFIX = "internal error"


@dataclass(slots=True)
class Pending:
    msg_id: str
    topic: str
    payload: bytes
    attempts: int = 0  # how many times it has been handed out for publishing
    due_at: float = 0.0  # clock time of the next publish


@dataclass(frozen=True, slots=True)
class Ack:
    """The platform's answer for one message, as the device reads it."""

    msg_id: str
    accepted: int
    rejected: tuple[dict[str, Any], ...]
    error: str | None

    @property
    def settles(self) -> bool:
        """Whether this answer ends the message's delivery (anything but "try again later")."""
        return not (self.error or "").startswith(RETRY_LATER_PREFIX)


def parse_ack(payload: bytes) -> Ack | None:
    """Read an ack; None for anything that is not one (a device must never crash on input)."""
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or not isinstance(body.get("msg_id"), str):
        return None
    rejected = body.get("rejected")
    error = body.get("error")
    return Ack(
        msg_id=body["msg_id"],
        accepted=body["accepted"] if isinstance(body.get("accepted"), int) else 0,
        rejected=tuple(rejected) if isinstance(rejected, list) else (),
        error=error if isinstance(error, str) else None,
    )


class Outbox:
    """The messages a device has published and not yet seen acked. Thread-safe."""

    def __init__(
        self,
        *,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        max_backoff_s: float = MAX_BACKOFF_S,
        jitter: float = JITTER,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        if ack_timeout_s <= 0 or max_backoff_s < ack_timeout_s or not 0 <= jitter <= 1:
            raise ValueError("need 0 < ack_timeout_s <= max_backoff_s and 0 <= jitter <= 1")
        self.ack_timeout_s, self.max_backoff_s, self.jitter = ack_timeout_s, max_backoff_s, jitter
        self._clock = clock
        self._rng = rng or random.Random()
        self._pending: dict[str, Pending] = {}
        self._queue: list[tuple[float, int, str]] = []  # (due_at, order, msg_id); stale entries skipped
        self._order = itertools.count()
        self._lock = threading.Lock()
        self.resends = 0

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, msg_id: object) -> bool:
        return msg_id in self._pending

    def add(self, msg_id: str, topic: str, payload: bytes, *, published: bool = False) -> None:
        """Keep a new message: due at once, or, if the caller has just ``published`` it itself,
        after its ack timeout. Adding a msg_id already kept changes nothing."""
        with self._lock:
            if msg_id in self._pending:
                return
            now = self._clock()
            item = Pending(msg_id, topic, payload, attempts=int(published))
            item.due_at = now + self.wait_after(1) if published else now
            self._pending[msg_id] = item
            heapq.heappush(self._queue, (item.due_at, next(self._order), msg_id))

    def take_due(self, limit: int | None = None) -> list[Pending]:
        """The messages to publish now, oldest due first, each rescheduled for its next try."""
        now, due = self._clock(), []
        with self._lock:
            while self._queue and self._queue[0][0] <= now and (limit is None or len(due) < limit):
                due_at, _, msg_id = heapq.heappop(self._queue)
                item = self._pending.get(msg_id)
                if item is None or item.due_at != due_at:
                    continue  # acked meanwhile, or rescheduled by a reconnect
                self.resends += int(item.attempts > 0)
                item.attempts += 1
                item.due_at = now + self.wait_after(item.attempts)
                heapq.heappush(self._queue, (item.due_at, next(self._order), msg_id))
                due.append(item)
        return due

    def wait_after(self, attempts: int) -> float:
        """How long to wait for the ack after the ``attempts``-th publish of a message."""
        base = min(self.max_backoff_s, self.ack_timeout_s * 2 ** min(attempts - 1, 30))
        return base * (1 + self._rng.uniform(0, self.jitter))

    def settle(self, msg_id: str) -> Pending | None:
        """Forget a message the platform has answered; None if it was not kept."""
        with self._lock:
            return self._pending.pop(msg_id, None)

    def on_ack(self, payload: bytes) -> Ack | None:
        """Apply an ack from the ``ack`` topic; the ack when it answered one of ours."""
        ack = parse_ack(payload)
        if ack is None or ack.msg_id not in self._pending:
            return None
        if ack.settles:
            self.settle(ack.msg_id)
        return ack

    def snapshot(self) -> list[dict[str, Any]]:
        """What is kept, as JSON-ready data, for storing where a restart finds it."""
        with self._lock:
            return [
                {"msg_id": item.msg_id, "topic": item.topic, "attempts": item.attempts,
                 "payload": base64.b64encode(item.payload).decode("ascii")}
                for item in self._pending.values()
            ]  # fmt: skip

    def restore(self, kept: list[dict[str, Any]]) -> None:
        """Take back what an earlier run kept: due at once, each where it was in its back-off."""
        for entry in kept:
            self.add(entry["msg_id"], entry["topic"], base64.b64decode(entry["payload"]))
            with self._lock:
                self._pending[entry["msg_id"]].attempts = int(entry.get("attempts", 0))

    def reconnected(self) -> None:
        """A new connection (ack subscription confirmed): everything kept is due at once."""
        now = self._clock()
        with self._lock:
            for item in self._pending.values():
                item.due_at = now
            self._queue = [(now, next(self._order), msg_id) for msg_id in self._pending]
            heapq.heapify(self._queue)


def publish_due(outbox: Outbox, client: Any, *, limit: int | None = None) -> int:
    """Publish (QoS 1) what the outbox says is due over a connected paho client; how many."""
    due = outbox.take_due(limit)
    for item in due:
        client.publish(item.topic, item.payload, qos=1)
    return len(due)


def outboxes_save(path: Path, outboxes: Mapping[str, Outbox]) -> None:
    """Store several devices' outboxes in one file; a crash mid-write leaves the previous one."""
    data = {device_id: box.snapshot() for device_id, box in outboxes.items() if len(box)}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(partial, path)


def outboxes_load(path: Path, outboxes: Mapping[str, Outbox]) -> int:
    """Put back what :func:`outboxes_save` stored for these devices; how many messages."""
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return 0
    restored = 0
    for device_id, kept in data.items() if isinstance(data, dict) else ():
        if device_id in outboxes:
            outboxes[device_id].restore(kept)
            restored += len(kept)
    return restored
