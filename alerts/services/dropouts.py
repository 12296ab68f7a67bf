"""'Device offline' alerts for many devices at once: what the sweep raises after a mass dropout.

The sweep has already won each device's claim (its conditional UPDATE), so no other worker can
raise these alerts: they go in one INSERT, their first events in another. A device that
somehow still has a live 'device offline' alert keeps it (one live alert per device and kind).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from alerts.models import Alert, AlertEvent, AlertKind
from alerts.services.core import LIVE_STATES, _new_alert
from alerts.services.technical import device_offline_news
from devices.models import ConnectivityGap, Device


def raise_devices_offline(pairs: Sequence[tuple[Device, ConnectivityGap]], *, now: datetime) -> dict[int, Alert]:
    """One 'device offline' alert per device (its patient set), by device pk; live ones kept."""
    device_pks = [device.pk for device, _ in pairs]
    live = {
        alert.device_id: alert
        for alert in Alert.objects.filter(
            kind=AlertKind.DEVICE_OFFLINE, state__in=LIVE_STATES, device_id__in=device_pks
        )
    }
    fresh = [(device, device_offline_news(device=device, gap=gap)) for device, gap in pairs if device.pk not in live]
    alerts = Alert.objects.bulk_create(
        [_new_alert(device.patient, news, now) for device, news in fresh], batch_size=2000
    )
    AlertEvent.objects.bulk_create(
        (
            AlertEvent(alert=alert, action=AlertEvent.Action.RAISED, at=now, note=news.detail, data=news.data)
            for alert, (_, news) in zip(alerts, fresh, strict=True)
        ),
        batch_size=2000,
    )
    return live | {alert.device_id: alert for alert in alerts}
