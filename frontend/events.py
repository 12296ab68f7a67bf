"""The one door for live dashboard events, opened only after the database commits.

Services call :func:`publish` inside their transaction; the event goes out through the channel
layer after commit, so no screen ever shows something the database then rolled back. Every
event reaches the group of its ward and the command centre's all-wards group. A dashboard that
reconnects asks for a fresh snapshot, so an event missed during a blip is never lost: the
state it described is in the database.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

ALL_WARDS_GROUP = "wards.all"


def ward_group(ward_id: int) -> str:
    return f"ward.{ward_id}"


def patient_group(patient_id: int) -> str:
    return f"patient.{patient_id}"


def user_group(user_id: int) -> str:
    """Every live socket a user has open, whatever it watches: how access changes reach them."""
    return f"user.{user_id}"


def sockets_session_ended(*, user_id: int, session_key: str | None) -> None:
    """Close ``user_id``'s sockets opened under ``session_key`` (a log-out), after commit."""
    _to_user(user_id, {"type": "session.ended", "session_key": session_key})


def sockets_access_changed(*, user_id: int) -> None:
    """Make ``user_id``'s open sockets check their access again (role, wards, account), after commit."""
    _to_user(user_id, {"type": "access.changed"})


def _to_user(user_id: int, message: dict[str, Any]) -> None:
    message = {**message, "group": user_group(user_id), "event": message["type"]}
    transaction.on_commit(lambda: _send(message))


def publish(
    event: str,
    *,
    ward_id: int,
    patient_id: int | None = None,
    data: dict[str, Any] | None = None,
    patient_only: bool = False,
) -> None:
    """Send ``event`` to the ward's dashboards once the surrounding transaction commits.

    ``patient_only`` sends it to the patient's page alone, for a sender that tells the ward
    boards the same news in one event for the whole ward.
    """
    if patient_only and patient_id is None:
        raise ValueError("a patient-only event needs a patient_id")
    message = {
        "type": "live.event",
        "event": event,
        "ward_id": ward_id,
        "patient_id": patient_id,
        "at": timezone.now().isoformat(),
        "data": data or {},
    }
    if patient_only:
        message["patient_only"] = True
    transaction.on_commit(lambda: _send(message))


def _send(message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        # The in-process layer (fresh machine, tests) lives on the caller's loops; send inline.
        try:
            async_to_sync(_send_all)(layer, [message])
        except Exception:
            logger.exception("live event %s could not be sent", message["event"])
        return
    _SENDER.submit(message)


def _groups(message: dict[str, Any]) -> list[str]:
    if "group" in message:  # sent to one user's sockets, not to a ward
        return [message["group"]]
    if message.get("patient_only"):
        return [patient_group(message["patient_id"])]
    groups = [ward_group(message["ward_id"]), ALL_WARDS_GROUP]
    if message["patient_id"] is not None:
        groups.append(patient_group(message["patient_id"]))
    return groups


async def _send_all(layer: Any, messages: list[dict[str, Any]]) -> None:
    if await _publish_pipelined(layer, messages):
        return
    sends = [layer.group_send(group, message) for message in messages for group in _groups(message)]
    results = await asyncio.gather(*sends, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            # A live-update failure must never undo or block clinical work that has committed;
            # dashboards re-sync from the database on reconnect.
            logger.error("live event could not be sent: %r", result)


async def _publish_pipelined(layer: Any, messages: list[dict[str, Any]]) -> bool:
    """The Redis pub/sub layer's group_send, for a whole batch in one round trip per shard.

    channels_redis publishes each group_send under a per-shard lock, one round trip at a time;
    ingest sends an event per patient per batch to three groups, so that queue of round trips
    cost the ingest process as much CPU as storing the readings (py-spy, docs/benchmarks.md).
    Same channel names and serialisation as ``group_send``; False (send one by one) for any
    other layer.
    """
    if not isinstance(layer, RedisPubSubChannelLayer):
        return False
    inner = layer._get_layer()  # this event loop's layer: its shards hold the connections
    by_shard: dict[Any, list[tuple[str, bytes]]] = {}
    for message in messages:
        payload = layer.serialize(message)
        for group in _groups(message):
            channel = inner._get_group_channel_name(group)
            by_shard.setdefault(inner._get_shard(channel), []).append((channel, payload))
    for shard, publishes in by_shard.items():
        try:
            async with shard._lock:
                shard._ensure_redis()
                async with shard._redis.pipeline(transaction=False) as pipe:
                    for channel, payload in publishes:
                        pipe.publish(channel, payload)
                    await pipe.execute()
        except Exception as exc:
            # Same rule as one by one: dashboards re-sync from the database on reconnect.
            logger.error("live events could not be sent: %r", exc)
    return True


class _BackgroundSender:
    """One event loop per process, on its own thread, sends every live event.

    ``async_to_sync`` per event would start a fresh loop each time, and the Redis layer keeps a
    connection per loop, so every event would open a new Redis connection. Here the loop and
    its connections live as long as the process, and events queued while a send is under way
    go out together. The hot path (ingest, Celery) only enqueues.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._pid = 0
        # Events submitted since the loop was last woken: a batch's events (one per patient in
        # ingest) wake it once, not once each, since every wake-up is a write to the loop's
        # self-pipe and a hand-over of the GIL to its thread.
        self._waiting: list[dict[str, Any]] = []
        self._woken = False

    def submit(self, message: dict[str, Any]) -> None:
        loop, queue = self._running()
        with self._lock:
            self._waiting.append(message)
            if self._woken:
                return
            self._woken = True
        loop.call_soon_threadsafe(self._hand_over, queue)

    def _hand_over(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            waiting, self._waiting, self._woken = self._waiting, [], False
        for message in waiting:
            queue.put_nowait(message)

    def _running(self) -> tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]:
        with self._lock:
            # A forked worker (Celery prefork) inherits the object but not the thread.
            if self._loop is None or self._queue is None or self._pid != os.getpid():
                self._loop = asyncio.new_event_loop()
                self._queue = asyncio.Queue()
                self._pid = os.getpid()
                self._waiting, self._woken = [], False
                loop, queue = self._loop, self._queue
                threading.Thread(target=self._serve, args=(loop, queue), daemon=True, name="live-events").start()
            return self._loop, self._queue

    def _serve(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[dict[str, Any]]) -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self._drain(queue))

    async def _drain(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        layer = get_channel_layer()
        while True:
            batch = [await queue.get()]
            while not queue.empty() and len(batch) < 500:
                batch.append(queue.get_nowait())
            try:
                await _send_all(layer, batch)
            except Exception:
                logger.exception("live events could not be sent")


_SENDER = _BackgroundSender()
