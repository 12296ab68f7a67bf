"""Websockets for the live screens: authenticate, check access, join groups, forward events.

The client sends ``{"type": "sync"}`` on every (re)connect and after each event; the answer is
a full snapshot from the database, so nothing is lost to a network blip. Access is checked at
connect with the same ``accounts.access`` rules as the pages: a clinician cannot subscribe to
another ward's group or patient. It is checked again while the socket is open
(``frontend.socket_access``): a log-out closes the session's sockets at once, a change of role,
ward or account re-checks them at once, and every socket re-checks itself on a timer and when
its session expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from accounts.access import can_view_patient, can_view_ward, role_of, sees_all_wards, visible_wards
from accounts.audit_hooks import audit_socket_opened
from frontend import live
from frontend.board_query import BoardQuery, query_from_string
from frontend.events import ALL_WARDS_GROUP, patient_group, user_group, ward_group
from frontend.socket_access import session_expires_at, socket_user_now

# Application close codes (4000-4999): the user may not see what the socket asked for; the
# user is no longer signed in (log-out, expired session, deactivated account).
CLOSE_FORBIDDEN = 4403
CLOSE_SIGNED_OUT = 4401
EVENT_KEYS = ("event", "ward_id", "patient_id", "at", "data")


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """Base: subclasses say which groups a user may join and what a snapshot is."""

    joined: list[str]

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        # Snapshots carry aware datetimes; DjangoJSONEncoder writes them as ISO 8601 with offset.
        return json.dumps(content, cls=DjangoJSONEncoder)

    async def connect(self) -> None:
        self.joined = []
        self.user = self.scope.get("user")
        groups = await database_sync_to_async(self.allowed_groups)() if self.user is not None else None
        if not groups:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        session = self.scope.get("session")
        self.session_key = getattr(session, "session_key", None) if session is not None else None
        self.user_id = self.user.pk
        for group in [*groups, user_group(self.user_id)]:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = groups
        expires_at = await database_sync_to_async(session_expires_at)(self.session_key)
        self.watcher = asyncio.ensure_future(self._watch(expires_at))
        await self.accept()
        await audit_socket_opened(self.scope, self.user)

    async def disconnect(self, code: int) -> None:
        # Events already queued for this socket are dropped quietly instead of being sent to a
        # closed connection (the browser re-syncs when it reconnects).
        self.gone = True
        watcher = getattr(self, "watcher", None)
        if watcher is not None and watcher is not asyncio.current_task():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        groups = [*self.joined, user_group(self.user_id)] if self.joined else []
        for group in groups:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _watch(self, expires_at: dt.datetime | None) -> None:
        """Re-check access every VW_SOCKET_RECHECK_SECONDS, and as the session expires."""
        while not getattr(self, "gone", False):
            await asyncio.sleep(_next_check_in(expires_at))
            if await self._access_lost():
                return
            # Any request that saves the session moves its expiry: follow it, never a stale one.
            expires_at = await database_sync_to_async(session_expires_at)(self.session_key)

    async def session_ended(self, message: dict[str, Any]) -> None:
        if message.get("session_key") in (None, self.session_key) and not getattr(self, "gone", False):
            await self._shut(CLOSE_SIGNED_OUT)

    async def access_changed(self, message: dict[str, Any]) -> None:
        if not getattr(self, "gone", False):
            await self._access_lost()

    async def _access_lost(self) -> bool:
        code = await database_sync_to_async(self._recheck)()
        if code is not None:
            await self._shut(code)
        return code is not None

    def _recheck(self) -> int | None:
        """None while the user may still see everything the socket joined, else the close code."""
        user = socket_user_now(user_id=self.user_id, session_key=self.session_key)
        if user is None:
            return CLOSE_SIGNED_OUT
        self.user = user
        return None if set(self.joined) <= set(self.allowed_groups()) else CLOSE_FORBIDDEN

    async def _shut(self, code: int) -> None:
        self.gone = True  # nothing more is sent, even what is already queued for this socket
        await self.close(code=code)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "sync":
            snapshot = await database_sync_to_async(self.snapshot)()
            await self.send_json({"type": "snapshot", **snapshot})
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "error": 'unknown message; send {"type": "sync"} or "ping"'})

    async def live_event(self, message: dict[str, Any]) -> None:
        if getattr(self, "gone", False):
            return
        await self.send_json({"type": "event", **{key: message.get(key) for key in EVENT_KEYS}})

    def allowed_groups(self) -> list[str]:  # pragma: no cover - always overridden
        raise NotImplementedError

    def snapshot(self) -> dict[str, Any]:  # pragma: no cover - always overridden
        raise NotImplementedError

    def _route_id(self, name: str) -> int:
        return int(self.scope["url_route"]["kwargs"][name])


def _next_check_in(expires_at: dt.datetime | None) -> float:
    """Seconds to the next re-check: the regular interval, or just after the session expires."""
    wait = float(settings.VW_SOCKET_RECHECK_SECONDS)
    if expires_at is not None:
        until_expiry = (expires_at - timezone.now()).total_seconds() + 0.5
        if until_expiry > 0:
            wait = min(wait, until_expiry)
    return wait


def _all_ward_groups(user: Any) -> list[str]:
    if role_of(user) is None:
        return []
    if sees_all_wards(user):
        return [ALL_WARDS_GROUP]
    return [ward_group(pk) for pk in visible_wards(user).values_list("pk", flat=True)]


class BoardConsumer(LiveConsumer):
    """A ward board: each sync may carry the board's query string, kept for later snapshots.

    Every snapshot after a live event applies the board's query, so an event about a patient
    outside the filter never inserts them and one who newly matches appears.
    """

    query_string = ""

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and isinstance(content.get("query"), str):
            self.query_string = content["query"]
        await super().receive_json(content, **kwargs)

    def board_query(self, ward_id: int | None) -> BoardQuery:
        wards = visible_wards(self.user).order_by("name") if ward_id is None and "ward=" in self.query_string else ()
        return query_from_string(self.query_string, wards=wards)


class WardConsumer(BoardConsumer):
    def allowed_groups(self) -> list[str]:
        ward_id = self._route_id("ward_id")
        return [ward_group(ward_id)] if can_view_ward(self.user, ward_id) else []

    def snapshot(self) -> dict[str, Any]:
        ward_id = self._route_id("ward_id")
        return live.board_snapshot(user=self.user, ward_id=ward_id, query=self.board_query(ward_id))


class AllWardsConsumer(BoardConsumer):
    def allowed_groups(self) -> list[str]:
        return _all_ward_groups(self.user)

    def snapshot(self) -> dict[str, Any]:
        return live.board_snapshot(user=self.user, ward_id=None, query=self.board_query(None))


class AlertQueueConsumer(LiveConsumer):
    def allowed_groups(self) -> list[str]:
        return _all_ward_groups(self.user)

    def snapshot(self) -> dict[str, Any]:
        return live.triage_snapshot(user=self.user)


class PatientConsumer(LiveConsumer):
    def allowed_groups(self) -> list[str]:
        patient_id = self._route_id("patient_id")
        return [patient_group(patient_id)] if can_view_patient(self.user, patient_id) else []

    def snapshot(self) -> dict[str, Any]:
        return live.patient_snapshot(user=self.user, patient_id=self._route_id("patient_id"))
