"""Technical alerts: a device offline, observations overdue, a low battery.

They tell the command centre "not heard from", never "deteriorating", and each resolves itself
(outcome auto_resolved, with an AlertEvent saying why) once its cause clears.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from alerts.models import Alert, AlertKind, Severity
from alerts.services.core import LIVE_STATES, AlertNews, auto_resolve, raise_or_escalate
from devices.models import ConnectivityGap, Device, DeviceMode
from patients.models import Patient

# A patient with no complete set of observations this long after admission is overdue: the
# NEWS2 chart's longest routine interval (RCP 2017 chart 4, "minimum 12-hourly").
FIRST_SET_DUE = timedelta(hours=12)


def duration_text(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def raise_device_offline(*, device: Device, gap: ConnectivityGap, now: datetime) -> Alert | None:
    """The one 'device offline' alert of this episode; the caller has won the claim."""
    if device.patient is None:
        return None
    alert, _ = raise_or_escalate(patient=device.patient, news=device_offline_news(device=device, gap=gap), now=now)
    return alert


def device_offline_news(*, device: Device, gap: ConnectivityGap) -> AlertNews:
    """What a 'device offline' alert says (also raised in bulk by the sweep, alerts.services.dropouts)."""
    return offline_news(
        device_pk=device.pk, label=str(device), mode=device.mode, interval_s=device.expected_interval_s,
        gap_pk=gap.pk, cause=gap.cause, started_at=gap.started_at,
    )  # fmt: skip


def offline_news(
    *, device_pk: int, label: str, mode: str, interval_s: int, gap_pk: int | None, cause: str, started_at: datetime
) -> AlertNews:
    """:func:`device_offline_news` from plain values: the sweep words ten thousand of these at once."""
    since, every = _local(started_at), duration_text(timedelta(seconds=interval_s))
    if cause == ConnectivityGap.Cause.LAST_WILL:
        detail = f"The device disconnected (Last Will) at {since}."
    elif mode == DeviceMode.SPOT_CHECK:
        detail = f"No reading since {since}; readings are due every {every}."
    else:
        detail = f"Nothing received since {since}; expected every {every}."
    return AlertNews(
        kind=AlertKind.DEVICE_OFFLINE,
        # An unmonitored continuous device leaves the patient unwatched; a missed spot check
        # is a gap in routine observations.
        severity=Severity.MEDIUM if mode == DeviceMode.CONTINUOUS else Severity.LOW_MEDIUM,
        title=f"Not heard from: {label}",
        detail=detail,
        device_id=device_pk,
        data={"gap_id": gap_pk, "cause": cause, "started_at": started_at.isoformat()},
    )


def resolve_device_offline(*, device: Device, gap: ConnectivityGap | None, now: datetime) -> Alert | None:
    data: dict = {}
    note = "The device is back online."
    if gap is not None and gap.ended_at is not None:
        length = gap.ended_at - gap.started_at
        data = {"gap_id": gap.pk, "gap_seconds": int(length.total_seconds())}
        note = f"The device is back online after a gap of {duration_text(length)}."
    return auto_resolve(
        kind=AlertKind.DEVICE_OFFLINE,
        patient_id=device.patient_id or 0,
        device_id=device.pk,
        now=now,
        note=note,
        data=data,
    )


def raise_low_battery(*, device: Device, now: datetime) -> Alert | None:
    if device.patient is None:
        return None
    news = AlertNews(
        kind=AlertKind.LOW_BATTERY,
        severity=Severity.LOW,
        title=f"Low battery ({device.battery} %): {device}",
        detail="Ask the patient to charge the device or replace its batteries.",
        device_id=device.pk,
        data={"battery": device.battery},
    )
    alert, _ = raise_or_escalate(patient=device.patient, news=news, now=now)
    return alert


def resolve_low_battery(*, device: Device, now: datetime) -> Alert | None:
    return auto_resolve(
        kind=AlertKind.LOW_BATTERY,
        patient_id=device.patient_id or 0,
        device_id=device.pk,
        now=now,
        note=f"Battery recovered to {device.battery} %.",
        data={"battery": device.battery},
    )


def observations_due_at(patient: Patient) -> datetime:
    """When the patient's next complete set is due, by the current NEWS2 band (RCP chart 4)."""
    last_complete = getattr(patient, "last_complete_at", None)
    if last_complete is None:
        return patient.admitted_at + FIRST_SET_DUE
    current = patient.current_score
    interval = timedelta(seconds=current.monitoring_interval_s) if current is not None else FIRST_SET_DUE
    return last_complete + interval


def sweep_overdue_observations(*, now: datetime | None = None) -> dict[str, int]:
    """Raise 'observations overdue' for patients past due, resolve it for the rest."""
    now = now or timezone.now()
    patients = (
        Patient.objects.filter(discharged_at__isnull=True)
        .select_related("current_score")
        .annotate(last_complete_at=Max("scores__as_of", filter=Q(scores__complete=True)))
    )
    live = set(
        Alert.objects.filter(kind=AlertKind.OBSERVATIONS_OVERDUE, state__in=LIVE_STATES).values_list(
            "patient_id", flat=True
        )
    )
    counts = {"raised": 0, "resolved": 0}
    for patient in patients.iterator(chunk_size=500):
        due = observations_due_at(patient)
        if due < now and patient.pk not in live:
            with transaction.atomic():
                raise_or_escalate(patient=patient, news=_overdue_news(patient, due, now), now=now)
            counts["raised"] += 1
        elif due >= now and patient.pk in live:
            with transaction.atomic():
                auto_resolve(
                    kind=AlertKind.OBSERVATIONS_OVERDUE,
                    patient_id=patient.pk,
                    now=now,
                    note="Observations are no longer overdue.",
                )
            counts["resolved"] += 1
    return counts


def _overdue_news(patient: Patient, due: datetime, now: datetime) -> AlertNews:
    current = patient.current_score
    if getattr(patient, "last_complete_at", None) is None:
        detail = f"No complete set of observations since admission; the first was due {_local(due)}."
    else:
        detail = (
            f"The newest complete set is from {_local(patient.last_complete_at)}; "
            f"the current band asks for: {current.monitoring_frequency if current else 'minimum 12-hourly'}."
        )
    urgent = current is not None and current.risk in ("medium", "high")
    return AlertNews(
        kind=AlertKind.OBSERVATIONS_OVERDUE,
        severity=Severity.MEDIUM if urgent else Severity.LOW_MEDIUM,
        title=f"Observations overdue by {duration_text(now - due)}",
        detail=detail,
        data={"due_at": due.isoformat()},
    )


def _local(moment: datetime) -> str:
    # Cached by the minute shown (and the zone): a mass dropout words thousands of the same minute.
    return _local_minute(moment.replace(second=0, microsecond=0), timezone.get_current_timezone_name())


@functools.lru_cache(maxsize=256)
def _local_minute(minute: datetime, zone: str) -> str:
    return timezone.localtime(minute).strftime("%d %b %H:%M")
