"""`make bench-outage`: 10,000 devices silent at once, on the real PostgreSQL.

The fleet is seeded straight into a database of the bench's own (as benchmarks/seed.py
does: the pairing services' events and audit records are not what is measured), every device
made overdue at one shared deadline, and then sweepers claim them as the beat would. A poller
on its own connection notes when the incident and the last episode become visible to another
reader: that, not the sweeper's own view, is when the command centre could see them.
"""

from __future__ import annotations

import math
import multiprocessing
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from alerts.models import Alert, AlertEvent, AlertKind, ConnectivityIncident, IncidentMember
from benchmarks.outage_sweeper import sweep_on_ticks
from benchmarks.seed import bench_nhs_number
from devices.models import Connectivity, ConnectivityGap, Device, DeviceKind, DeviceMode
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
    phase_s: float
    episodes: int
    gaps: int
    alerts: int
    raised_events: int
    incidents: int
    members: int
    exactly_once: bool
    # What the beat costs when nothing is due: one sweep over the seeded fleet, and its share of
    # one core at this beat (the price of a shorter beat).
    idle_sweep_ms: float = 0.0
    idle_sweep_samples_ms: list[float] = field(default_factory=list)
    idle_cost_share: float = 0.0

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


def _watch(expected: int, limit_s: float) -> tuple[float | None, float | None]:
    """Poll on this process's own connection: when the incident, then every episode, became visible."""
    incident_at = all_at = None
    ends = time.time() + limit_s
    while time.time() < ends:
        now = time.time()
        if incident_at is None and ConnectivityIncident.objects.exists():
            incident_at = now
        if ConnectivityGap.objects.count() >= expected:
            all_at = now
            if incident_at is None and ConnectivityIncident.objects.exists():
                incident_at = now
            break
        time.sleep(0.02)
    return incident_at, all_at


def run(
    *, silent: int, reporting: int, sweepers: int, phase_s: float = 0.0, lead_s: float = 2.0, beat_s: float = 5.0
) -> OutageResult:
    """Seed, start the sweepers, and once they are ready set one deadline for every silent device."""
    seed(silent=silent, reporting=reporting, deadline=timezone.now() + timedelta(days=1))
    idle = idle_sweep_ms()
    connections.close_all()
    context = multiprocessing.get_context("spawn")  # fresh processes, like Celery workers: no shared GIL
    ticks = max(6, math.ceil(30 / beat_s))  # sweeps for at least 30 s, as beat would
    with context.Manager() as manager:
        durations, ready, start = manager.list(), manager.Queue(), manager.Queue()
        processes = [
            context.Process(target=sweep_on_ticks, args=(ready, start, beat_s, ticks, durations), name=f"sweeper-{n}")
            for n in range(sweepers)
        ]
        for process in processes:
            process.start()
        for _ in processes:
            ready.get(timeout=600)
        deadline = timezone.now() + timedelta(seconds=lead_s)
        _set_deadline(silent, deadline)
        deadline_ts = deadline.timestamp()
        for _ in processes:
            start.put(deadline_ts + phase_s)
        incident_at, all_at = _watch(silent, limit_s=lead_s + phase_s + ticks * beat_s + 30)
        for process in processes:
            process.join(timeout=120)
        swept = list(durations)
    result = _result(silent, reporting, sweepers, swept, deadline_ts, beat_s)
    result.phase_s = phase_s
    result.idle_sweep_samples_ms = idle
    result.idle_sweep_ms = round(statistics.median(idle), 2)
    result.idle_cost_share = round(result.idle_sweep_ms / 1000 / beat_s, 5)
    result.deadline_to_incident_s = round(incident_at - deadline_ts, 3) if incident_at else None
    result.deadline_to_all_episodes_s = round(all_at - deadline_ts, 3) if all_at else None
    return result


def idle_sweep_ms(samples: int = 21) -> list[float]:
    """Time the beat's sweep with nothing due over the seeded fleet: what every idle beat costs."""
    from devices.sweep import sweep_overdue

    sweep_overdue(now=timezone.now())  # warm the connection and the plan
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        result = sweep_overdue(now=timezone.now())
        times.append(round((time.perf_counter() - started) * 1000, 2))
        assert result.started == 0, "nothing is due before the deadline is set"
    return times


def _set_deadline(silent: int, deadline: datetime) -> None:
    """Every silent device last heard one interval and the grace before ``deadline``: all due at once."""
    last_seen = deadline - timedelta(seconds=60 + settings.VW_DEVICE_GRACE_SECONDS)
    devices = Device.objects.filter(network_operator=OPERATOR)
    assert devices.update(last_seen_at=last_seen, overdue_at=deadline) == silent


def _result(
    silent: int, reporting: int, sweepers: int, durations: list[float], deadline: float, beat: float
) -> OutageResult:
    gaps = ConnectivityGap.objects.count()
    alerts = Alert.objects.filter(kind=AlertKind.DEVICE_OFFLINE).count()
    raised = AlertEvent.objects.filter(action="raised").count()
    distinct = ConnectivityGap.objects.values("device_id").distinct().count()
    incidents = ConnectivityIncident.objects.count()
    members = IncidentMember.objects.count()
    return OutageResult(
        devices=silent, reporting=reporting, sweepers=sweepers, sweep_seconds=sorted(durations),
        deadline_to_incident_s=None, deadline_to_all_episodes_s=None, beat_interval_s=beat, phase_s=0.0,
        episodes=distinct, gaps=gaps, alerts=alerts, raised_events=raised, incidents=incidents, members=members,
        exactly_once=gaps == alerts == raised == distinct == members == silent and incidents == 1,
    )  # fmt: skip
