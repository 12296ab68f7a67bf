"""A ward of patients whose home hubs report their mobile network, for the outage tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from devices.connectivity import record_contact
from devices.models import Device
from tests.factories import DeviceFactory
from tests.frontend.conftest import RISK_TOTALS, make_score, new_patient

GRACE = dt.timedelta(seconds=60)  # VW_DEVICE_GRACE_SECONDS in the test settings
INTERVAL = dt.timedelta(seconds=60)


def hub_fleet(ward: Any, count: int, *, operator: str, risks: list[str | None] | None = None) -> list[Device]:
    """``count`` patients on ``ward``, each with a continuous hub on ``operator``; scored as ``risks``."""
    devices = []
    for n in range(count):
        patient = new_patient(ward)
        risk = (risks or [])[n] if n < len(risks or []) else "low"
        if risk is not None:
            make_score(patient, total=RISK_TOTALS[risk], risk=risk)
        devices.append(
            DeviceFactory(
                patient=patient,
                expected_interval_s=int(INTERVAL.total_seconds()),
                network_type="cellular",
                network_operator=operator,
                network_cell=f"{operator}{n % 3:05d}",
                network_at=timezone.now(),
            )
        )
    return devices


def heard(devices: list[Device], at: dt.datetime) -> None:
    record_contact(contacts={d.pk: at for d in devices}, readings={}, batteries={})


def overdue_from(at: dt.datetime) -> dt.datetime:
    """The moment a device last heard from at ``at`` is overdue."""
    return at + INTERVAL + GRACE
