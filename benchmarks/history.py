"""`make bench-history`: the platform's hot paths with a week of readings and with a year.

The history is a 300-bed virtual ward over a year, seeded through ingest's own binary ``COPY``
(``devices.ingest.store.insert_observations``) into the partitioned table, newest day first, so
the first million rows are the last week and the later rows are the year behind it: what is
measured at 1M and at 50M is the same present, with more past behind it.

The mix (documented in docs/benchmarks.md#history), per bed and day:

- 154 beds (51 %) wear a continuous patch: heart rate, respiratory rate and SpO2 every
  5 minutes, 864 readings a day;
- 146 beds have a spot-check kit: a full NEWS2 set of 7 readings 4 times a day, 28 readings.

That is 137,000 readings a day, 50.1 million a year. Stays last 14 days, staggered by bed, so
a year holds about 7,800 patients; today's 300 are on the board.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction

from benchmarks.seed import bench_nhs_number
from devices.ingest.store import NewObservation, insert_observations
from devices.models import Device, DeviceKind, DeviceMode
from history.partitions import OBSERVATIONS, create_month, month_start, next_month
from patients.models import Pathway, Patient, Ward

BEDS = 300
CONTINUOUS_BEDS = 154
STAY_DAYS = 14
PATCH_EVERY = timedelta(minutes=5)
SPOT_HOURS = (8, 12, 16, 20)
PER_DAY = CONTINUOUS_BEDS * 3 * 288 + (BEDS - CONTINUOUS_BEDS) * 7 * len(SPOT_HOURS)

PATCH = (("heart_rate", "/min", 60, 100), ("respiratory_rate", "/min", 12, 20), ("spo2", "%", 94, 99))
SPOT = (
    ("heart_rate", "/min", 60, 100),
    ("respiratory_rate", "/min", 12, 20),
    ("spo2", "%", 94, 99),
    ("systolic_bp", "mmHg", 110, 140),
    ("temperature", "Cel", 36.4, 37.4),
    ("on_oxygen", "", 0, 0),
    ("consciousness", "", None, None),
)


@dataclass
class Ward300:
    ward_id: int
    now: datetime
    devices: list[int]  # one per bed
    stays: dict[tuple[int, int], int]  # (bed, stay number counted back from now) -> patient id

    def patient_at(self, bed: int, moment: datetime) -> int:
        return self.stays[(bed, self.stay_of(bed, moment))]

    def stay_of(self, bed: int, moment: datetime) -> int:
        # Stay 0 is the current one; stays are staggered so a day of admissions is spread out.
        offset = timedelta(days=bed % STAY_DAYS, hours=bed % 24)
        return max(0, math.floor(((self.now - offset) - moment) / timedelta(days=STAY_DAYS)) + 1)


def seed_ward(*, now: datetime, days: int) -> Ward300:
    """The ward, its beds' devices, and every patient who stays within ``days`` before ``now``."""
    stays_per_bed = days // STAY_DAYS + 2
    with transaction.atomic():
        ward = Ward.objects.create(name="History ward", pathway=Pathway.RESPIRATORY)
        shell = Ward300(ward.pk, now, [], {})
        patients, keys = [], []
        for bed in range(BEDS):
            for stay in range(stays_per_bed):
                start = shell.now - timedelta(days=bed % STAY_DAYS, hours=bed % 24) - stay * timedelta(days=STAY_DAYS)
                n = len(patients)
                patients.append(
                    Patient(
                        nhs_number=bench_nhs_number(n),
                        given_name="History",
                        family_name=f"Bed {bed:03d}/{stay:02d}",
                        date_of_birth=(now - timedelta(days=365 * 75)).date(),
                        ward=ward,
                        admitted_at=start,
                        discharged_at=None if stay == 0 else start + timedelta(days=STAY_DAYS),
                    )
                )
                keys.append((bed, stay))
        made = Patient.objects.bulk_create(patients, batch_size=2000)
        shell.stays = {key: patient.pk for key, patient in zip(keys, made, strict=True)}
        devices = Device.objects.bulk_create(
            Device(
                device_id=f"dev-history-{bed:03d}",
                serial=f"HISTORY-{bed:03d}",
                kind=DeviceKind.WEARABLE_PATCH if bed < CONTINUOUS_BEDS else DeviceKind.PULSE_OXIMETER,
                mode=DeviceMode.CONTINUOUS if bed < CONTINUOUS_BEDS else DeviceMode.SPOT_CHECK,
                patient_id=shell.stays[(bed, 0)],
                expected_interval_s=3600,
                secret_hash="unused",
                credentials_issued_at=now,
                paired_at=now,
            )
            for bed in range(BEDS)
        )
        shell.devices = [device.pk for device in devices]
    return shell


def ensure_months(first: datetime, last: datetime) -> None:
    with connection.cursor() as cursor:
        start = month_start(first)
        while start <= last:
            create_month(cursor, OBSERVATIONS, start)
            start = next_month(start)


def day_rows(ward: Ward300, day: int, seed: int) -> Iterator[NewObservation]:
    """Day ``day`` back from now (0: the last 24 hours), the same rows for the same seed."""
    rng = random.Random(seed * 100_003 + day)
    end = ward.now - timedelta(days=day)
    start = end - timedelta(days=1)
    for bed in range(BEDS):
        device = ward.devices[bed]
        if bed < CONTINUOUS_BEDS:
            times = [start + PATCH_EVERY * k + timedelta(seconds=bed % 60) for k in range(288)]
            kinds = PATCH
        else:
            base = start.replace(minute=0, second=0, microsecond=0)
            hours = (base + timedelta(hours=h) for h in range(25))
            times = [t for t in hours if t.hour in SPOT_HOURS and start <= t < end]
            kinds = SPOT
        for slot, at in enumerate(times):
            patient = ward.patient_at(bed, at)
            msg_id = f"h{day}-{bed}-{slot}"
            for index, (obs_type, unit, low, high) in enumerate(kinds):
                code, value = "", None
                if obs_type == "consciousness":
                    code = "A"
                elif low == high:
                    value = float(low)
                else:
                    value = round(rng.uniform(low, high), 1)
                yield NewObservation(patient, obs_type, value, code, unit, at, at, device, msg_id, index, False)


def seed_days(ward: Ward300, days: range, seed: int, say: Callable[[str], None]) -> int:
    """COPY whole days through ingest's path; the rows written."""
    written, started, chunk = 0, time.monotonic(), []
    for day in days:
        for row in day_rows(ward, day, seed):
            chunk.append(row)
            if len(chunk) >= 50_000:
                written += _copy(chunk)
        if day % 30 == 29:
            say(f"seeded {day + 1} days, {written:,} rows, {written / (time.monotonic() - started):,.0f} rows/s")
    written += _copy(chunk)
    return written


def _copy(chunk: list[NewObservation]) -> int:
    with transaction.atomic():
        insert_observations(chunk)
    count = len(chunk)
    chunk.clear()
    return count
