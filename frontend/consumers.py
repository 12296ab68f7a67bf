"""Websockets for the live screens: authenticate, check access, join groups, forward events.

The client sends ``{"type": "sync"}`` on every (re)connect and after each event; the answer is
a full snapshot from the database, so nothing is lost to a network blip. Access is checked at
connect with the same ``accounts.access`` rules as the pages: a clinician cannot subscribe to
another ward's group or patient.
"""

from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.serializers.json import DjangoJSONEncoder

from accounts.access import can_view_patient, can_view_ward, role_of, sees_all_wards, visible_wards
from accounts.audit_hooks import audit_socket_opened
from frontend import live
from frontend.events import ALL_WARDS_GROUP, patient_group, ward_group

# Application close code (4000-4999): the user may not see what the socket asked for.
CLOSE_FORBIDDEN = 4403
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
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.joined = groups
        await self.accept()
        await audit_socket_opened(self.scope, self.user)

    async def disconnect(self, code: int) -> None:
        # Events already queued for this socket are dropped quietly instead of being sent to a
        # closed connection (the browser re-syncs when it reconnects).
        self.gone = True
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)

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


def _all_ward_groups(user: Any) -> list[str]:
    if role_of(user) is None:
        return []
    if sees_all_wards(user):
        return [ALL_WARDS_GROUP]
    return [ward_group(pk) for pk in visible_wards(user).values_list("pk", flat=True)]


class WardConsumer(LiveConsumer):
    def allowed_groups(self) -> list[str]:
        ward_id = self._route_id("ward_id")
        return [ward_group(ward_id)] if can_view_ward(self.user, ward_id) else []

    def snapshot(self) -> dict[str, Any]:
        return live.board_snapshot(user=self.user, ward_id=self._route_id("ward_id"))


class AllWardsConsumer(LiveConsumer):
    def allowed_groups(self) -> list[str]:
        return _all_ward_groups(self.user)

    def snapshot(self) -> dict[str, Any]:
        return live.board_snapshot(user=self.user, ward_id=None)


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
