"""`make bench-outage`: 10,000 devices silent at once, on the real PostgreSQL.

The fleet is seeded straight into a database of the bench's own (as devices/bench/seed.py
does: the pairing services' events and audit records are not what is measured), every device
made overdue at one shared deadline, and then sweepers claim them as the beat would. A poller
on its own connection notes when the incident and the last episode become visible to another
reader: that, not the sweeper's own view, is when the command centre could see them.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, connections, transaction
from django.utils import timezone

from alerts.models import Alert, AlertEvent, AlertKind, ConnectivityIncident, IncidentMember
from devices.bench.seed import bench_nhs_number
from devices.models import Connectivity, ConnectivityGap, Device, DeviceKind, DeviceMode
from devices.sweep import sweep_overdue
from patients.models import Pathway, Patient, Ward

OPERATOR, OTHER_OPERATOR = "23415", "23430"
RISKS = (("high", 7), ("medium", 5), ("low-medium", 3), ("low", 1))


@dataclass
class OutageResult:
    devices: int
    reporting: int
    sweepers: int
    sweep_seconds: list[float]
    deadline_to_incident_s: float | None
    deadline_to_all_episodes_s: float | None
    beat_interval_s: float
    worst_case_with_beat_s: float | None
    episodes: int
    gaps: int
    alerts: int
    raised_events: int
    incidents: int
    members: int
    exactly_once: bool

    def as_dict(self) -> dict:
        return asdict(self)


def seed(*, silent: int, reporting: int, deadline: datetime) -> None:
    """``silent`` hubs on one network due at ``deadline``; ``reporting`` on another, not due."""
    interval = timedelta(seconds=60)
    grace = timedelta(seconds=settings.VW_DEVICE_GRACE_SECONDS)
    with transaction.atomic():
        ward = Ward.objects.create(name="Outage bench ward", pathway=Pathway.RESPIRATORY)
        patients = Patient.objects.bulk_create(
            (
                Patient(
                    nhs_number=bench_nhs_number(n), given_name="Bench", family_name=f"Patient {n:05d}",
                    date_of_birth=(deadline - timedelta(days=365 * 70)).date(), ward=ward,
                    admitted_at=deadline - timedelta(days=1),
                )
                for n in range(silent + reporting)
            ),
            batch_size=2000,
        )  # fmt: skip
        last_seen = deadline - interval - grace
        Device.objects.bulk_create(
            (
                Device(
                    device_id=f"dev-outage-{n:05d}", kind=DeviceKind.WEARABLE_PATCH, serial=f"OUTAGE-{n:05d}",
                    patient=patient, mode=DeviceMode.CONTINUOUS, expected_interval_s=60, secret_hash="bench",
                    paired_at=last_seen, connectivity=Connectivity.ONLINE, last_seen_at=last_seen,
                    overdue_at=deadline if n < silent else deadline + timedelta(hours=1),
                    network_type="cellular", network_operator=OPERATOR if n < silent else OTHER_OPERATOR,
                    network_cell=f"cell-{n % 400:03d}", network_rssi_dbm=-90, network_technology="4G",
                    network_at=last_seen,
                )
                for n, patient in enumerate(patients)
            ),
            batch_size=2000,
        )  # fmt: skip
        _score(patients, deadline)


def _score(patients: list[Patient], at: datetime) -> None:
    """A NEWS2 for every patient, one in ten at medium or high risk, so the ranking has work to do."""
    from scoring.models import EarlyWarningScore

    scores = EarlyWarningScore.objects.bulk_create(
        (
            EarlyWarningScore(
                patient=patient, computed_at=at, as_of=at, total=RISKS[n % 20 if n % 20 < 2 else 3][1],
                risk=RISKS[n % 20 if n % 20 < 2 else 3][0], band="x", spo2_scale=1, complete=True, sub_scores={},
                clinical_response="", monitoring_frequency="", monitoring_interval_s=3600,
            )
            for n, patient in enumerate(patients)
        ),
        batch_size=2000,
    )  # fmt: skip
    for patient, score in zip(patients, scores, strict=True):
        patient.current_score_id = score.pk
    Patient.objects.bulk_update(patients, ["current_score"], batch_size=2000)


class _Watcher(threading.Thread):
    """Polls on its own connection: when the incident, and then every episode, are visible."""

    def __init__(self, expected: int) -> None:
        super().__init__(daemon=True, name="outage-watcher")
        self.expected = expected
        self.incident_at: float | None = None
        self.all_at: float | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                now = time.time()
                if self.incident_at is None and ConnectivityIncident.objects.exists():
                    self.incident_at = now
                if ConnectivityGap.objects.count() >= self.expected:
                    self.all_at = now
                    return
                time.sleep(0.02)
        finally:
            connections.close_all()


def run(*, silent: int, reporting: int, sweepers: int, lead_s: float = 3.0, beat_s: float = 5.0) -> OutageResult:
    deadline = timezone.now() + timedelta(seconds=lead_s + 5)
    seed(silent=silent, reporting=reporting, deadline=deadline)
    connection.close()
    time.sleep(max(0.0, (deadline - timezone.now()).total_seconds()))
    deadline_ts = deadline.timestamp()
    watcher = _Watcher(silent)
    watcher.start()
    durations: list[float] = []
    barrier = threading.Barrier(sweepers)

    def sweep() -> None:
        try:
            barrier.wait(timeout=30)
            started = time.perf_counter()
            sweep_overdue(now=timezone.now())
            durations.append(round(time.perf_counter() - started, 3))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep, name=f"sweeper-{n}") for n in range(sweepers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    watcher.join(timeout=30)
    watcher.stop.set()
    return _result(silent, reporting, sweepers, durations, watcher, deadline_ts, beat_s)


def _result(
    silent: int, reporting: int, sweepers: int, durations: list[float], watcher: _Watcher, deadline: float, beat: float
) -> OutageResult:
    gaps = ConnectivityGap.objects.count()
    alerts = Alert.objects.filter(kind=AlertKind.DEVICE_OFFLINE).count()
    raised = AlertEvent.objects.filter(action="raised").count()
    distinct = ConnectivityGap.objects.values("device_id").distinct().count()
    incidents = ConnectivityIncident.objects.count()
    members = IncidentMember.objects.count()
    to_all = round(watcher.all_at - deadline, 3) if watcher.all_at else None
    return OutageResult(
        devices=silent, reporting=reporting, sweepers=sweepers, sweep_seconds=sorted(durations),
        deadline_to_incident_s=round(watcher.incident_at - deadline, 3) if watcher.incident_at else None,
        deadline_to_all_episodes_s=to_all, beat_interval_s=beat,
        worst_case_with_beat_s=round(to_all + beat, 3) if to_all is not None else None,
        episodes=distinct, gaps=gaps, alerts=alerts, raised_events=raised, incidents=incidents, members=members,
        exactly_once=gaps == alerts == raised == distinct == members == silent and incidents == 1,
    )  # fmt: skip
