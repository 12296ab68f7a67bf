"""The one door for live dashboard events, opened only after the database commits.

Services call :func:`publish` inside their transaction; the event goes out through the channel
layer after commit, so no screen ever shows something the database then rolled back. Every
event reaches the group of its ward and the command centre's all-wards group. A dashboard that
reconnects asks for a fresh snapshot, so an event missed during a blip is never lost: the
state it described is in the database.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

ALL_WARDS_GROUP = "wards.all"


def ward_group(ward_id: int) -> str:
    return f"ward.{ward_id}"


def patient_group(patient_id: int) -> str:
    return f"patient.{patient_id}"


def publish(event: str, *, ward_id: int, patient_id: int | None = None, data: dict[str, Any] | None = None) -> None:
    """Send ``event`` to the ward's dashboards once the surrounding transaction commits."""
    message = {
        "type": "live.event",
        "event": event,
        "ward_id": ward_id,
        "patient_id": patient_id,
        "at": timezone.now().isoformat(),
        "data": data or {},
    }
    transaction.on_commit(lambda: _send(message))


def _send(message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    groups = [ward_group(message["ward_id"]), ALL_WARDS_GROUP]
    if message["patient_id"] is not None:
        groups.append(patient_group(message["patient_id"]))
    try:
        for group in groups:
            async_to_sync(layer.group_send)(group, message)
    except Exception:
        # A live-update failure must never undo or block clinical work that has committed;
        # dashboards re-sync from the database on reconnect.
        logger.exception("live event %s could not be sent", message["event"])
