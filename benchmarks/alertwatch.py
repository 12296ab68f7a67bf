"""Listen where the command centre listens: the all-wards group of the live-event door.

Publish-to-alert is measured to the moment an ``alert.raised`` event reaches a dashboard's
channel, which is later than the alert row's ``opened_at`` (taken when scoring starts, before
its commit) and is what a nurse actually waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

from channels.layers import get_channel_layer

from frontend.events import ALL_WARDS_GROUP

_POLL_S = 0.2


class AlertWatch:
    """Records the arrival time of the first ``alert.raised`` event per patient."""

    def __init__(self) -> None:
        self.raised_at: dict[int, float] = {}
        self.events_seen = 0
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bench-alert-watch", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"could not join the channel layer's {ALL_WARDS_GROUP} group: {self._error!r}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        try:
            asyncio.run(self._listen())
        except BaseException as exc:  # reported through start() or the missing alerts
            self._error = exc

    async def _listen(self) -> None:
        layer = get_channel_layer()
        if layer is None:
            raise RuntimeError("no channel layer is configured")
        channel = await layer.new_channel()
        await layer.group_add(ALL_WARDS_GROUP, channel)
        self._ready.set()
        # One receive stays pending across polls: cancelling a receive (as wait_for's timeout
        # would) makes channels_redis drop the channel's queue and unsubscribe, and every event
        # published until the next receive re-subscribed would be lost to the bench.
        receiving = asyncio.ensure_future(layer.receive(channel))
        try:
            while not self._stop.is_set():
                done, _ = await asyncio.wait({receiving}, timeout=_POLL_S)
                if done:
                    self._note(receiving.result(), time.time())
                    receiving = asyncio.ensure_future(layer.receive(channel))
        finally:
            receiving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiving
            await layer.group_discard(ALL_WARDS_GROUP, channel)

    def _note(self, message: dict, arrived: float) -> None:
        self.events_seen += 1
        patient_id = message.get("patient_id")
        if message.get("event") == "alert.raised" and patient_id is not None:
            self.raised_at.setdefault(patient_id, arrived)
