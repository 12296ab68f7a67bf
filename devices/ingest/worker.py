"""The batch worker: drains the transport's queue, stores each batch, then acknowledges it.

Order of events for every message: stored and committed -> device ``ack`` published -> MQTT
acknowledgement. A crash anywhere before the last step means the broker redelivers the message,
and the idempotency record turns the redelivery into a replay of the stored outcome.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol

from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction

from devices.ingest.batch import handle_batch
from devices.ingest.messages import Incoming, Outcome, parse_incoming
from devices.ingest.store import load_devices, whole_rejection
from devices.mqtt_transport import Received
from devices.protocol import ack_payload, ack_topic

logger = logging.getLogger(__name__)

# The database is unreachable, locked or restarting: wait and try the same batch again.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)
INTERNAL_ERROR_REPLY = "internal error: the message was not stored; send it again later"
# Retries while the database is away double from RETRY_BASE_S up to RETRY_MAX_S: capped low so
# ingest resumes within about two seconds of the database's return, not after a 30 s sleep.
RETRY_BASE_S, RETRY_MAX_S = 0.25, 2.0


def retry_delay(attempt: int, *, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """How long to wait before retry ``attempt`` (0 first): doubling, capped, with jitter.

    The wait is drawn between half and all of the capped doubling, so several ingest processes
    that lost the database together do not all come back in the same instant.
    """
    ceiling = min(max_s, base_s * 2 ** min(attempt, 30))
    return (rng or random).uniform(ceiling / 2, ceiling)


class Link(Protocol):
    """What the worker needs of the transport."""

    def publish(self, topic: str, payload: bytes) -> None: ...

    def ack(self, token: Any) -> Any: ...


@dataclass(slots=True)
class Stats:
    messages: int = 0
    batches: int = 0
    accepted: int = 0
    rejected: int = 0
    duplicates: int = 0
    errors: int = 0  # whole messages refused, for any reason
    retries: int = 0

    def take(self) -> Stats:
        """A copy of the counts so far, which are reset."""
        snapshot = Stats(**{f.name: getattr(self, f.name) for f in fields(self)})
        for f in fields(self):
            setattr(self, f.name, 0)
        return snapshot


class Inbox:
    """Messages from paho's network thread to the batch worker, without a wake-up per message.

    ``queue.Queue`` wakes a waiting worker on every put: at 1,000 msg/s that was a thousand
    hand-overs of the interpreter lock a second between paho's thread and the worker's. Here a
    put appends and sets an event, which only an idle worker waits on; a worker collecting a
    batch looks at the count again every ``idle_s`` instead. Thread-safe for one taker.
    """

    def __init__(self) -> None:
        self._items: deque[Received] = deque()
        self._arrived = threading.Event()

    def put(self, item: Received) -> None:
        self._items.append(item)
        # Appended before the check: a taker that clears the event after this check still
        # finds the item when it takes, and one that cleared it before makes this set it.
        if not self._arrived.is_set():
            self._arrived.set()

    def __len__(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def wait(self, timeout: float) -> bool:
        """True once something has arrived since the last take (or is left over from it)."""
        return self._arrived.wait(timeout)

    def take(self, limit: int) -> list[Received]:
        self._arrived.clear()
        items = []
        while len(items) < limit and self._items:
            items.append(self._items.popleft())
        if self._items:
            self._arrived.set()  # more than one batch was waiting
        return items


class IngestWorker:
    def __init__(
        self,
        link: Link | None = None,
        *,
        batch_size: int = 500,
        batch_wait_s: float = 0.02,
        idle_s: float = 0.005,
        retry_base_s: float = RETRY_BASE_S,
        retry_max_s: float = RETRY_MAX_S,
        after_commit: Callable[[Sequence[Outcome]], None] | None = None,
    ) -> None:
        self.link = link
        self.inbox = Inbox()
        self.stopping = threading.Event()
        self.batch_size = batch_size
        self.batch_wait_s = batch_wait_s
        self.idle_s = idle_s
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.after_commit = after_commit
        self.stats = Stats()
        self.totals = Stats()
        self._stats_lock = threading.Lock()

    def put(self, received: Received) -> None:
        """The transport's callback: a thread-safe hand-over, nothing else."""
        if self.stopping.is_set():
            return  # left unacknowledged: the broker redelivers it to the next session
        self.inbox.put(received)

    def run(self) -> None:
        """Process batches until asked to stop, then finish what is already queued."""
        try:
            while not (self.stopping.is_set() and self.inbox.empty()):
                batch = self.collect()
                if batch and not self.process(batch):
                    return  # stopping while the database is unavailable: the broker keeps the rest
        finally:
            connection.close()  # this thread's own connection

    def collect(self) -> list[Received]:
        """Up to ``batch_size`` messages: wait for one, then for more until the timer or a lull."""
        if not self.inbox.wait(0.2):
            return []
        deadline = time.monotonic() + self.batch_wait_s
        seen = len(self.inbox)
        while seen < self.batch_size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            time.sleep(min(remaining, self.idle_s))
            # A lull flushes early: under MQTT 3.1.1 the broker stops sending at its in-flight
            # limit until we ack, so waiting out the timer would only add latency.
            if len(self.inbox) == seen:
                break
            seen = len(self.inbox)
        return self.inbox.take(self.batch_size)

    def process(self, batch: Sequence[Received]) -> bool:
        """Store, then answer and acknowledge; False if stopped before the batch was stored."""
        assert self.link is not None, "attach the transport before processing"
        outcomes = self._commit([Incoming(r.topic, r.payload, r.received_at, r.retained) for r in batch])
        if outcomes is None:
            return False
        if self.after_commit is not None:
            self.after_commit(outcomes)
        for received, outcome in zip(batch, outcomes, strict=True):
            if outcome.reply is not None and outcome.reply_topic is not None:
                self.link.publish(outcome.reply_topic, outcome.reply)
            if outcome.stored:
                self.link.ack(received.token)
        self._count(outcomes)
        return True

    # --- storing with retries ----------------------------------------------------------------------

    def _commit(self, messages: list[Incoming]) -> list[Outcome] | None:
        attempt = 0
        while True:
            _refresh_connection()
            try:
                return handle_batch(messages)
            except TRANSIENT_ERRORS as exc:
                delay = self._delay(attempt)
                logger.warning("database unavailable (%s); retrying %d messages in %.1fs", exc, len(messages), delay)
            except Exception:
                if len(messages) == 1:
                    return self._record_internal_error(messages[0])
                # One poison message must not hold up the rest: store them one by one.
                logger.exception("batch of %d failed; storing its messages one by one", len(messages))
                return self._commit_singly(messages)
            self._count_retry()
            if self.stopping.wait(delay):
                return None
            attempt += 1

    def _delay(self, attempt: int) -> float:
        return retry_delay(attempt, base_s=self.retry_base_s, max_s=self.retry_max_s)

    def _commit_singly(self, messages: list[Incoming]) -> list[Outcome] | None:
        outcomes: list[Outcome] = []
        for message in messages:
            result = self._commit([message])
            if result is None:
                return None
            outcomes.extend(result)
        return outcomes

    def _record_internal_error(self, message: Incoming) -> list[Outcome] | None:
        """Record a message that fails on its own, so it is seen by staff and does not loop."""
        logger.exception("message on %s could not be stored; recorded as an internal error", message.topic)
        attempt = 0
        while True:
            _refresh_connection()
            try:
                with transaction.atomic():
                    return [record_internal_error(message)]
            except TRANSIENT_ERRORS:
                self._count_retry()
                if self.stopping.wait(self._delay(attempt)):
                    return None
                attempt += 1
            except Exception:
                logger.critical("message on %s could not even be recorded; left unacknowledged", message.topic)
                return [Outcome(message, error="internal error", stored=False)]

    def _count_retry(self) -> None:
        with self._stats_lock:
            self.stats.retries += 1
            self.totals.retries += 1

    def _count(self, outcomes: Sequence[Outcome]) -> None:
        with self._stats_lock:
            for stats in (self.stats, self.totals):
                stats.batches += 1
                stats.messages += len(outcomes)
                for outcome in outcomes:
                    stats.accepted += 0 if outcome.duplicate else outcome.accepted
                    stats.rejected += 0 if outcome.duplicate else outcome.rejected
                    stats.duplicates += int(outcome.duplicate)
                    stats.errors += int(outcome.error is not None and not outcome.duplicate)

    def take_stats(self) -> Stats:
        with self._stats_lock:
            return self.stats.take()


def _refresh_connection() -> None:
    # Drops a connection the database closed (restart, failover) so the retry opens a new one.
    # Never inside an atomic block: that would be someone else's transaction (e.g. a test's).
    if not connection.in_atomic_block:
        close_old_connections()


def record_internal_error(message: Incoming) -> Outcome:
    """Store an "internal error" rejection for a message that cannot be stored on its own.

    The msg_id goes into the reason, not the msg_id column, so a later re-send of the same
    msg_id is stored normally instead of being answered with this error.
    """
    parsed = parse_incoming(message)
    device = load_devices([parsed.device_ref]).get(parsed.device_ref) if parsed.device_ref else None
    reason = f"internal error while storing msg_id {parsed.msg_id!r}" if parsed.msg_id else "internal error"
    row = whole_rejection(parsed, device, reason)
    row.msg_id = ""
    row.save()
    if parsed.channel != "obs":
        return Outcome(message, error=reason)
    reply = ack_payload(parsed.msg_id, 0, [], INTERNAL_ERROR_REPLY)
    return Outcome(message, reply_topic=ack_topic(parsed.device_ref), reply=reply, error=reason)
