"""Not-spots: whose kit keeps dropping, what to do about it, and where dropouts cluster.

The rules are plain functions over a device's connectivity over the stay (its gaps, from
ConnectivityGap, and the signal strengths it reported, from NetworkReport); the selectors read
them; :func:`flag_dropping_kit` turns a flag into one open task for the kit team per device.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.audit import audit_record
from devices.models import ConnectivityGap, Device, KitTask, NetworkReport
from patients.models import Patient

# A kit "keeps dropping" when over the last day it went silent this often, or when over the
# stay it was connected for less than this share of the time (after at least MIN_STAY).
DROPS_PER_DAY = 3
CONNECTED_SHARE = 0.9
MIN_STAY = timedelta(hours=6)
# Signal strengths below which a link is weak: about 2 bars on a phone (cellular RSSI) and the
# level at which Wi-Fi starts to lose packets.
WEAK_CELLULAR_DBM = -105
WEAK_WIFI_DBM = -75


@dataclass
class StayConnectivity:
    """One device's connectivity from the start of its stay (admission or pairing) until ``until``."""

    device_id: int
    since: datetime
    until: datetime
    gap_seconds: list[float] = field(default_factory=list)
    gaps_last_day: int = 0
    rssi_dbm: list[int] = field(default_factory=list)
    network_type: str = ""

    @property
    def stay_seconds(self) -> float:
        return max((self.until - self.since).total_seconds(), 0.0)

    @property
    def connected_share(self) -> float | None:
        if not self.stay_seconds:
            return None
        return max(0.0, 1 - sum(self.gap_seconds) / self.stay_seconds)

    @property
    def median_rssi_dbm(self) -> float | None:
        return statistics.median(self.rssi_dbm) if self.rssi_dbm else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "connected_share": round(self.connected_share, 4) if self.connected_share is not None else None,
            "gaps": len(self.gap_seconds),
            "gaps_last_day": self.gaps_last_day,
            "longest_gap_s": round(max(self.gap_seconds), 1) if self.gap_seconds else None,
            "median_gap_s": round(statistics.median(self.gap_seconds), 1) if self.gap_seconds else None,
            "median_rssi_dbm": self.median_rssi_dbm,
            "weakest_rssi_dbm": min(self.rssi_dbm) if self.rssi_dbm else None,
            "network_type": self.network_type or None,
        }


def keeps_dropping(stay: StayConnectivity) -> str | None:
    """Why this kit needs the kit team, or None if it does not."""
    if stay.gaps_last_day >= DROPS_PER_DAY:
        return f"went silent {stay.gaps_last_day} times in the last 24 h"
    share = stay.connected_share
    if share is not None and stay.stay_seconds >= MIN_STAY.total_seconds() and share < CONNECTED_SHARE:
        return f"connected {share:.0%} of the stay (below {CONNECTED_SHARE:.0%})"
    return None


def suggested_remedy(stay: StayConnectivity) -> str:
    """What to try, from how the kit is connected and how strong its signal is."""
    rssi = stay.median_rssi_dbm
    if stay.network_type == "cellular" and rssi is not None and rssi <= WEAK_CELLULAR_DBM:
        return (
            f"Weak mobile signal (median {rssi:.0f} dBm): a SIM on another operator (multi-network), "
            "or a cellular hub with an external antenna placed near a window."
        )
    if stay.network_type == "wifi" and rssi is not None and rssi <= WEAK_WIFI_DBM:
        return f"Weak Wi-Fi (median {rssi:.0f} dBm): a Wi-Fi extender, or a cellular hub instead of Wi-Fi."
    if stay.network_type == "wifi":
        return "Home Wi-Fi drops out: a cellular hub, so the kit does not depend on the home router."
    return (
        "A spot-check routine with store-and-forward: readings kept on the device and sent when it "
        "reconnects; check the kit's power and placement at the next visit."
    )


def stay_connectivity(device: Device, *, now: datetime | None = None) -> StayConnectivity:
    """One device's connectivity over the patient's stay, from its gaps and network reports."""
    now = now or timezone.now()
    starts = [moment for moment in (device.paired_at, getattr(device.patient, "admitted_at", None)) if moment]
    since = max(starts) if starts else now
    until = min(now, device.patient.discharged_at) if device.patient and device.patient.discharged_at else now
    stay = StayConnectivity(device_id=device.pk, since=since, until=until, network_type=device.network_type)
    for started, ended in device.gaps.filter(Q(ended_at__isnull=True) | Q(ended_at__gt=since)).values_list(
        "started_at", "ended_at"
    ):
        start, end = max(started, since), min(ended or until, until)
        if end > start:
            stay.gap_seconds.append((end - start).total_seconds())
        if started >= until - timedelta(days=1):
            stay.gaps_last_day += 1
    reports = NetworkReport.objects.filter(device=device, at__gte=since, rssi_dbm__isnull=False)
    stay.rssi_dbm = list(reports.values_list("rssi_dbm", flat=True)[:1000])
    return stay


def flag_dropping_kit(*, now: datetime | None = None) -> list[KitTask]:
    """One open kit-team task for each paired device whose kit keeps dropping; returns the new ones."""
    now = now or timezone.now()
    busy = KitTask.objects.filter(state=KitTask.State.OPEN).values("device_id")
    recent = ConnectivityGap.objects.filter(started_at__gte=now - timedelta(days=1)).values("device_id")
    devices = (
        Device.objects.filter(patient__isnull=False, patient__discharged_at__isnull=True, revoked_at__isnull=True)
        .filter(Q(pk__in=recent) | Q(offline_since__isnull=False))
        .exclude(pk__in=busy)
        .select_related("patient")
    )
    made = []
    for device in devices:
        stay = stay_connectivity(device, now=now)
        reason = keeps_dropping(stay)
        if reason is None:
            continue
        try:
            with transaction.atomic():
                made.append(
                    KitTask.objects.create(
                        device=device, patient=device.patient, reason=f"{device}: {reason}"[:300],
                        remedy=suggested_remedy(stay)[:300], created_at=now,
                    )
                )  # fmt: skip
        except IntegrityError:
            continue  # a racing run opened it first
    return made


# A UK postcode's inward code is its last three characters, a digit and two letters; what comes
# before is the outward code, the postcode district (e.g. "LS1" of "LS1 4AP", "SW1A" of "SW1A 1AA").
_INWARD = re.compile(r"[0-9][A-Z]{2}")
_OUTWARD = re.compile(r"[A-Z]{1,2}[0-9][A-Z0-9]?")
UNKNOWN_DISTRICT = "unknown"


def postcode_district(postcode: str | None) -> str:
    """The postcode district (outward code) of a UK postcode, or "unknown" for none or a malformed one."""
    compact = re.sub(r"\s+", "", (postcode or "").upper())
    outward, inward = compact[:-3], compact[-3:]
    if _INWARD.fullmatch(inward) and _OUTWARD.fullmatch(outward):
        return outward
    return UNKNOWN_DISTRICT


def dropout_areas(*, since: datetime, patients: QuerySet[Patient] | None = None) -> dict[str, list[dict[str, Any]]]:
    """Where dropouts cluster since ``since``: by mobile operator, by cell and by postcode district.

    Counted, never listed per patient: a cell id or a postcode places a home. ``patients``
    limits the count to those (a clinician's wards); None counts everyone.
    """
    gaps = ConnectivityGap.objects.filter(started_at__gte=since)
    if patients is not None:
        gaps = gaps.filter(patient__in=patients)
    by_operator = (
        gaps.values("device__network_operator", "device__network_type")
        .annotate(dropouts=Count("pk"), devices=Count("device", distinct=True))
        .order_by("-dropouts")
    )
    by_cell = (
        gaps.exclude(device__network_cell="")
        .values("device__network_cell", "device__network_operator")
        .annotate(dropouts=Count("pk"), devices=Count("device", distinct=True))
        .order_by("-dropouts")[:50]
    )
    return {
        "by_operator": [
            {
                "operator": row["device__network_operator"] or None,
                "network_type": row["device__network_type"] or None,
                "dropouts": row["dropouts"],
                "devices": row["devices"],
            }
            for row in by_operator
        ],
        "by_cell": [
            {
                "cell": row["device__network_cell"],
                "operator": row["device__network_operator"] or None,
                "dropouts": row["dropouts"],
                "devices": row["devices"],
            }
            for row in by_cell
        ],
        "by_district": _by_district(gaps),
    }


def _by_district(gaps: QuerySet[ConnectivityGap]) -> list[dict[str, Any]]:
    """Dropouts, devices and patients per postcode district, the most dropouts first."""
    districts: dict[str, dict[str, Any]] = {}
    for postcode, device_id, patient_id in gaps.values_list("patient__postcode", "device_id", "patient_id"):
        row = districts.setdefault(postcode_district(postcode), {"dropouts": 0, "devices": set(), "patients": set()})
        row["dropouts"] += 1
        row["devices"].add(device_id)
        row["patients"].add(patient_id)
    ranked = sorted(districts.items(), key=lambda item: (-item[1]["dropouts"], item[0]))
    return [
        {"district": district, "dropouts": row["dropouts"], "devices": len(row["devices"]),
         "patients": len(row["patients"])}
        for district, row in ranked
    ]  # fmt: skip


def area_patients(*, since: datetime, patients: QuerySet[Patient]) -> list[int]:
    """The patients whose dropouts an area view counted: whose data it read (for the audit trail)."""
    gaps = ConnectivityGap.objects.filter(started_at__gte=since, patient__in=patients)
    return sorted(set(gaps.values_list("patient_id", flat=True)))


def open_kit_tasks(*, patients: QuerySet[Patient]) -> QuerySet[KitTask]:
    """The kit team's open tasks for these patients, oldest first."""
    return (
        KitTask.objects.filter(state=KitTask.State.OPEN, patient__in=patients)
        .select_related("device", "patient__ward")
        .order_by("created_at", "pk")
    )


class KitTaskError(Exception):
    """A kit task that cannot be closed (already done), with the reason."""


def kit_task_done(*, task: KitTask, user: Any, note: str = "") -> KitTask:
    """The kit team has visited: close the task, audited against the patient with who and what was done."""
    with transaction.atomic():
        locked = KitTask.objects.select_for_update().select_related("patient").get(pk=task.pk)
        if locked.state == KitTask.State.DONE:
            raise KitTaskError(f"This task was already done at {timezone.localtime(locked.done_at):%d %b %H:%M}.")
        locked.state, locked.done_at = KitTask.State.DONE, timezone.now()
        locked.save(update_fields=["state", "done_at"])
        audit_record(
            actor=user, action="kit_task.done", patient=locked.patient, obj=locked,
            detail={"device_id": locked.device_id, "remedy": locked.remedy, "note": note.strip()[:500]},
        )  # fmt: skip
    return locked
