"""Not-spots: whose kit keeps dropping, what to do about it, and where dropouts cluster.

The rules are plain functions over a device's connectivity over the stay (its gaps, from
ConnectivityGap, and the signal strengths it reported, from NetworkReport); the selectors read
them; :func:`flag_dropping_kit` turns a flag into one open task for the kit team per device.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone

from devices.models import ConnectivityGap, Device, KitTask, NetworkReport

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


def dropout_areas(*, since: datetime) -> dict[str, list[dict[str, Any]]]:
    """Where dropouts cluster since ``since``: by mobile operator and by cell, for planning kit.

    Counted, never listed per patient: a cell id places a home. Postcode districts are not
    held by the platform yet (see docs/connectivity.md).
    """
    gaps = ConnectivityGap.objects.filter(started_at__gte=since)
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
    }
