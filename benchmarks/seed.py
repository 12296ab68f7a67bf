"""The bench's ward: patients, each with a paired wearable, in a database of the bench's own.

Rows are bulk-created rather than admitted through the patient and pairing services: those
send live events and audit records per patient, and setting up a thousand beds would then be
measured as part of nothing. The rows are the same shape the services write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from devices.credentials import secret_generate, secret_hash
from devices.models import Device, DeviceKind, DeviceMode
from patients.models import Pathway, Patient, Ward
from patients.nhs_number import nhs_check_digit


@dataclass(frozen=True)
class Fleet:
    ordinary: tuple[str, ...]  # device ids sending everyday readings
    for_alerts: tuple[str, ...]  # one device per fresh patient whose first reading alerts


def bench_nhs_number(n: int) -> str:
    """The n-th valid number in the 999 range, which the NHS never issues to a real person."""
    base = 999_100_000 + n * 2
    while True:
        check = nhs_check_digit(str(base))
        if check is not None:
            return f"{base}{check}"
        base += 1


def seed_fleet(*, ordinary: int, for_alerts: int) -> Fleet:
    """Create ``ordinary + for_alerts`` patients, each with one paired continuous wearable."""
    now = timezone.now()
    total = ordinary + for_alerts
    # One hash for all: the broker password is not what the bench measures.
    hashed = secret_hash(secret_generate())
    with transaction.atomic():
        ward = Ward.objects.create(name="Bench ward", pathway=Pathway.RESPIRATORY)
        patients = Patient.objects.bulk_create(
            Patient(
                nhs_number=bench_nhs_number(n),
                given_name="Bench",
                family_name=f"Patient {n:05d}",
                date_of_birth=(now - timedelta(days=365 * 70)).date(),
                ward=ward,
                admitted_at=now - timedelta(days=1),
            )
            for n in range(total)
        )
        devices = Device.objects.bulk_create(
            Device(
                device_id=f"dev-bench-{n:05d}",
                kind=DeviceKind.WEARABLE_PATCH,
                serial=f"BENCH-{n:05d}",
                patient=patient,
                mode=DeviceMode.CONTINUOUS,
                # Long enough that no device of the fleet goes "offline" during a run.
                expected_interval_s=3600,
                secret_hash=hashed,
                credentials_issued_at=now,
                paired_at=now,
            )
            for n, patient in enumerate(patients)
        )
    ids = tuple(device.device_id for device in devices)
    return Fleet(ordinary=ids[:ordinary], for_alerts=ids[ordinary:])
