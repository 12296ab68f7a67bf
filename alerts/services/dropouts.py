"""'Device offline' alerts for many devices at once: what the sweep raises after a mass dropout.

The sweep has already won each device's claim (its conditional UPDATE), so no other worker can
raise these alerts: they go in one INSERT, their first events in another. A device that
somehow still has a live 'device offline' alert keeps it (one live alert per device and kind).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connection

from alerts.models import Alert, AlertEvent, AlertKind, AlertState
from alerts.services.core import LIVE_STATES, category_of
from alerts.services.technical import device_offline_news
from devices.models import ConnectivityGap, Device
from virtualward.bulk_insert import insert_rows


def raise_devices_offline(pairs: Sequence[tuple[Device, ConnectivityGap]], *, now: datetime) -> list[int]:
    """One 'device offline' alert per device, and its 'raised' event; the new alerts' pks.

    A device that already has a live one keeps it: the partial unique index on live alerts
    turns its row into a skipped conflict, so no second alert and no second event.
    """
    news = [device_offline_news(device=device, gap=gap) for device, gap in pairs]
    rows = [
        (n.kind, category_of(n.kind), n.severity, AlertState.OPEN, device.patient_id, device.pk,
         n.title[:200], n.detail, now, now, "")
        for n, (device, _) in zip(news, pairs, strict=True)
    ]  # fmt: skip
    columns = ["kind", "category", "severity", "state", "patient", "device", "title", "detail", "opened_at",
               "updated_at", "outcome"]  # fmt: skip
    if connection.vendor != "postgresql":
        # SQLite cannot say which rows a skipped conflict left out: the live ones are read first.
        live = set(
            Alert.objects.filter(
                kind=AlertKind.DEVICE_OFFLINE, state__in=LIVE_STATES, device_id__in=[d.pk for d, _ in pairs]
            ).values_list("device_id", flat=True)
        )
        rows = [row for row in rows if row[5] not in live]
    made = {
        device_pk: pk
        for pk, device_pk in insert_rows(
            Alert, columns, rows, returning=["id", "device"], skip_conflicts=connection.vendor == "postgresql"
        )
    }
    by_device = {device.pk: n for n, (device, _) in zip(news, pairs, strict=True)}
    insert_rows(
        AlertEvent,
        ["alert", "action", "at", "note", "data"],
        [(pk, AlertEvent.Action.RAISED, now, by_device[d].detail, by_device[d].data) for d, pk in made.items()],
    )
    return list(made.values())
