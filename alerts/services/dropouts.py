"""'Device offline' alerts for many devices at once: what the sweep raises after a mass dropout.

The sweep has already won each device's claim (its conditional UPDATE), so no other worker can
raise these alerts: they go in one INSERT, their first events in another. A device that
somehow still has a live 'device offline' alert keeps it (one live alert per device and kind).
Plain values in, not model instances: at 10,000 devices, building models cost more than the
database did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from alerts.models import Alert, AlertEvent, AlertKind, AlertState
from alerts.services.core import LIVE_STATES, category_of
from alerts.services.technical import offline_news
from virtualward.bulk_insert import insert_rows

_ALERT_COLUMNS = ["kind", "category", "severity", "state", "patient", "device", "title", "detail", "opened_at",
                  "updated_at"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class DroppedDevice:
    """A device the sweep has just taken offline, with its open gap."""

    pk: int
    patient_id: int
    ward_id: int
    label: str  # as str(Device): "Wearable patch SN-1"
    mode: str
    interval_s: int
    gap_pk: int
    cause: str
    started_at: datetime


def raise_devices_offline(dropped: Sequence[DroppedDevice], *, now: datetime) -> list[int]:
    """One 'device offline' alert per device, and its 'raised' event; the new alerts' pks.

    A device that already has a live one keeps it: on PostgreSQL the partial unique index on
    live alerts turns its row into a skipped conflict, so no second alert and no second event.
    """
    news = {
        d.pk: offline_news(
            device_pk=d.pk, label=d.label, mode=d.mode, interval_s=d.interval_s, gap_pk=d.gap_pk, cause=d.cause,
            started_at=d.started_at,
        )
        for d in dropped
    }  # fmt: skip
    rows = [
        (n.kind, category_of(n.kind), n.severity, AlertState.OPEN, d.patient_id, d.pk, n.title[:200], n.detail,
         now, now)
        for d in dropped
        if (n := news[d.pk])
    ]  # fmt: skip
    postgres = connection.vendor == "postgresql"
    if not postgres:
        # SQLite cannot say which rows a skipped conflict left out: the live ones are read first.
        live = set(
            Alert.objects.filter(
                kind=AlertKind.DEVICE_OFFLINE, state__in=LIVE_STATES, device_id__in=list(news)
            ).values_list("device_id", flat=True)
        )
        rows = [row for row in rows if row[5] not in live]
    made = insert_rows(Alert, _ALERT_COLUMNS, rows, returning=["id", "device"], skip_conflicts=postgres)
    insert_rows(
        AlertEvent,
        ["alert", "action", "at", "note", "data"],
        [(pk, AlertEvent.Action.RAISED, now, news[device].detail, news[device].data) for pk, device in made],
    )
    return [pk for pk, _ in made]
