"""What devices say about their network: the latest on the device, every report in the history.

Called by ingest inside its batch transaction for each `status` message that carried a
`network` object (protocol v1, "Network information"). A field the parser dropped is simply
absent here; its reason is recorded by ingest as a rejection beside the status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q

from devices.models import Device, NetworkReport
from devices.protocol import NetworkInfo


def record_network(*, device_pk: int, network: NetworkInfo, at: datetime) -> bool:
    """Store a device's network report; False if a newer report is already on the device.

    The history keeps every report, an older one arriving late included; the device row keeps
    the newest, so the outage grouping reads where the device was last connected.
    """
    device = Device.objects.filter(pk=device_pk).values("patient_id", "network_at").first()
    if device is None:
        return False
    NetworkReport.objects.create(
        device_id=device_pk,
        patient_id=device["patient_id"],
        at=at,
        type=network.type or "",
        operator=network.operator or "",
        rssi_dbm=network.rssi_dbm,
        technology=network.technology or "",
        cell=network.cell or "",
    )
    # Conditional, so two ingest processes storing reports out of order keep the newest.
    newest = Q(network_at__isnull=True) | Q(network_at__lte=at)
    return bool(
        Device.objects.filter(newest, pk=device_pk).update(
            network_type=network.type or "",
            network_operator=network.operator or "",
            network_rssi_dbm=network.rssi_dbm,
            network_technology=network.technology or "",
            network_cell=network.cell or "",
            network_at=at,
        )
    )


def network_to_dict(device: Device) -> dict[str, Any] | None:
    """A device's latest network report for the API and the patient page; None if it never sent one."""
    if device.network_at is None:
        return None
    return {
        "type": device.network_type or None,
        "operator": device.network_operator or None,
        "rssi_dbm": device.network_rssi_dbm,
        "technology": device.network_technology or None,
        "cell": device.network_cell or None,
        "at": device.network_at.isoformat(),
    }
