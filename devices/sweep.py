"""The connectivity sweep, set-based: thousands of silent devices claimed in one statement.

Each run claims up to ``SWEEP_BATCH`` overdue devices with one conditional UPDATE ... RETURNING
(on PostgreSQL the rows are first locked in a CTE with SKIP LOCKED, so a second sweeper racing
this one, or an ingest batch writing a device, is stepped over rather than waited for, and the
UPDATE's own condition re-checked on the newest row means a device that reported in the
meantime is not taken). Only the claimant of a device opens its gap and raises its alert, so
each episode is recorded exactly once however many workers sweep. The gaps, the alerts and
their first events are then written in one INSERT each, and the new dropouts are offered to
the outage grouping (alerts.services.incidents) in the same transaction, so an alert folded
under an incident never reaches a screen on its own first.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone

from alerts.models import Alert
from alerts.selectors import alert_to_dict
from alerts.services.dropouts import DroppedDevice, raise_devices_offline
from alerts.services.incidents import close_incidents, fold_recent_dropouts
from devices.models import Connectivity, ConnectivityGap, Device, DeviceKind
from frontend.events import publish
from patients.models import Patient
from virtualward.binary_rows import fetch_binary
from virtualward.bulk_insert import insert_rows

logger = logging.getLogger(__name__)

SWEEP_BATCH = 2500
# A beat sweep runs every 5 s; one with more to claim keeps going up to this long rather than
# leave the rest idle until the next beat. A later beat's sweep on another worker joins in:
# SKIP LOCKED gives each its own devices.
SWEEP_BUDGET_S = 8.0

# What the claim returns for each device it took offline.
_RETURNED = ("id", "patient_id", "offline_since", "mode", "expected_interval_s", "kind", "serial", "device_id")


@dataclass(frozen=True)
class SweepResult:
    started: int
    incidents: list[int]


def sweep_overdue(*, now: datetime | None = None, batch: int | None = None) -> SweepResult:
    """Take every overdue device offline, batch by batch; then fold and close incidents."""
    now = now or timezone.now()
    batch = batch or SWEEP_BATCH
    started, incidents = 0, set()
    budget_ends = time.monotonic() + SWEEP_BUDGET_S
    while True:
        with transaction.atomic():
            claimed = _claim(now, batch)
            if claimed:
                alerts = _open_episodes(claimed, now)
                touched, folded = fold_recent_dropouts(now=now)
                incidents.update(touched)
                _publish_raised([pk for pk in alerts if pk not in folded])
        started += len(claimed)
        if len(claimed) < batch or time.monotonic() > budget_ends:
            break
    with transaction.atomic():
        if not started:
            # Last Will dropouts, recorded by ingest one by one, are grouped here too (a batch's
            # fold above has already read every unfolded dropout, theirs included).
            incidents.update(fold_recent_dropouts(now=now)[0])
        close_incidents(now=now)
    return SweepResult(started=started, incidents=sorted(incidents))


def _claim(now: datetime, batch: int) -> list[tuple]:
    table = connection.ops.quote_name(Device._meta.db_table)
    patients = connection.ops.quote_name(Patient._meta.db_table)
    # The gap began when we last heard from the device (by connection if continuous, by
    # reading if spot-check: devices.connectivity.last_heard), not when the sweep noticed.
    began = (
        "COALESCE(CASE WHEN d.mode = 'continuous' THEN d.last_seen_at "
        "ELSE COALESCE(d.last_reading_at, d.last_seen_at) END, d.overdue_at)"
    )
    due = (
        f"SELECT d.id FROM {table} d JOIN {patients} p ON p.id = d.patient_id "  # noqa: S608 - model names only
        "WHERE d.overdue_at <= %s AND d.connectivity <> 'offline' AND d.revoked_at IS NULL "
        "AND p.discharged_at IS NULL ORDER BY d.overdue_at, d.id LIMIT %s"
    )
    returning = ", ".join(f"d.{column}" for column in _RETURNED)
    if connection.vendor == "postgresql":
        sql = (
            f"WITH due AS ({due} FOR NO KEY UPDATE OF d SKIP LOCKED) "  # noqa: S608 - model names only
            f"UPDATE {table} d SET connectivity = 'offline', offline_since = {began} "
            f"FROM due WHERE d.id = due.id AND d.overdue_at <= %s AND d.connectivity <> 'offline' "
            f"RETURNING {returning}"
        )
    else:  # SQLite (tests on a fresh machine): one writer at a time, RETURNING since 3.35
        sql = (
            f"UPDATE {table} AS d SET connectivity = 'offline', offline_since = {began} "  # noqa: S608 - model names only
            f"WHERE d.id IN ({due}) AND d.overdue_at <= %s AND d.connectivity <> 'offline' "
            f"RETURNING {', '.join(_RETURNED)}"  # SQLite's RETURNING takes no table names
        )
    if connection.vendor == "postgresql":
        return fetch_binary(sql, [now, batch, now])  # timestamps decoded in C, not in Python
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, batch, now])
        return cursor.fetchall()


def _open_episodes(claimed: list[tuple], now: datetime) -> list[int]:
    """Open each claimed device's gap and raise its alert; returns the alerts' pks."""
    rows = [dict(zip(_RETURNED, row, strict=True)) for row in claimed]
    for row in rows:
        if timezone.is_naive(row["offline_since"]):  # SQLite's RETURNING gives naive UTC
            row["offline_since"] = row["offline_since"].replace(tzinfo=UTC)
    wards = dict(Patient.objects.filter(pk__in={r["patient_id"] for r in rows}).values_list("pk", "ward_id"))
    gaps = _open_gaps(rows)
    kinds = dict(DeviceKind.choices)
    dropped = [
        DroppedDevice(
            pk=row["id"], patient_id=row["patient_id"], ward_id=wards[row["patient_id"]],
            label=f"{kinds.get(row['kind'], row['kind'])} {row['serial']}", mode=row["mode"],
            interval_s=row["expected_interval_s"], gap_pk=gaps[row["id"]][0], cause=gaps[row["id"]][1],
            started_at=gaps[row["id"]][2],
        )
        for row in rows
    ]  # fmt: skip
    alerts = raise_devices_offline(dropped, now=now)
    _publish(rows, wards)
    logger.info("sweep: %d devices offline", len(rows))
    return alerts


def _open_gaps(rows: list[dict]) -> dict[int, tuple]:
    """One open gap per device, new or already open (left alone on conflict): (pk, cause, started_at)."""
    made = insert_rows(
        ConnectivityGap,
        ["device", "patient", "cause", "started_at"],
        [(r["id"], r["patient_id"], ConnectivityGap.Cause.TIMEOUT, r["offline_since"]) for r in rows],
        returning=["device", "id", "cause", "started_at"],
        skip_conflicts=True,
    )
    gaps = {device: (pk, cause, started) for device, pk, cause, started in made}
    # A device whose gap was already open (its Last Will came first): that gap is this episode's.
    missing = [r["id"] for r in rows if r["id"] not in gaps]
    if missing:
        already = ConnectivityGap.objects.filter(device_id__in=missing, ended_at__isnull=True)
        for pk, device, cause, started in already.values_list("pk", "device_id", "cause", "started_at"):
            gaps[device] = (pk, cause, started)
    return gaps


def _publish(rows: list[dict], wards: dict[int, int]) -> None:
    """One event per ward for its boards, one per patient for the patient's page."""
    by_ward: dict[int, list[int]] = {}
    for row in rows:
        ward_id, patient_id = wards[row["patient_id"]], row["patient_id"]
        by_ward.setdefault(ward_id, []).append(patient_id)
        publish(
            "device.updated",
            ward_id=ward_id,
            patient_id=patient_id,
            data={"id": row["id"], "device_id": row["device_id"], "connectivity": Connectivity.OFFLINE},
            patient_only=True,
        )
    for ward_id, patient_ids in by_ward.items():
        publish("devices.offline", ward_id=ward_id, data={"patients": sorted(set(patient_ids))})


def _publish_raised(alert_pks: list[int]) -> None:
    """'alert.raised' for the alerts that stand on their own; a folded one is told by its incident."""
    for alert in Alert.objects.select_related("patient", "device").filter(pk__in=alert_pks):
        publish("alert.raised", ward_id=alert.patient.ward_id, patient_id=alert.patient_id, data=alert_to_dict(alert))
