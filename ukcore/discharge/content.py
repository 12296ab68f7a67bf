"""What a discharge summary says, gathered once from the record: the one source for the FHIR
document, the HTML page and the PDF, so the three can never disagree.

Section headings are the Professional Record Standards Body headings UK Core codes in
CodeSystem-UKCore-RecordStandardHeadings. Nothing is invented: where the platform recorded
nothing (a plan, advice given), the section says so rather than staying silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from alerts.models import CLINICAL_KINDS, Alert, AlertEvent
from devices.models import Device, KitTask, PairingCode
from patients.models import Observation, Patient, Stay
from scoring.models import EarlyWarningScore
from ukcore import codes
from ukcore.resources.observations import PARAMETER_NAMES

TREND_WINDOW = timedelta(hours=24)
TREND_POINTS = 6


@dataclass
class Section:
    code: codes.Code
    title: str
    lines: list[str]
    entries: list[tuple[str, str]] = field(default_factory=list)  # (resource type, id) it refers to


@dataclass
class Summary:
    patient: Patient
    stay: Stay
    admitted_at: datetime
    discharged_at: datetime
    author: Any  # the person who discharged, or None
    last_score: EarlyWarningScore | None
    devices: list[Device]
    sections: list[Section]


def when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%d %b %Y %H:%M") if moment else "unknown"


def gather(patient: Patient, author: Any, stay: Stay | None = None) -> Summary:
    """``stay``: the stay the summary is about; by default the patient's latest (the one just ended)."""
    stay = stay or patient.stays.select_related("ward").order_by("-admitted_at", "-id").first()
    if stay is None:
        raise ValueError(f"Patient {patient.pk} has no stay to summarise.")
    discharged_at = stay.discharged_at or timezone.now()
    admitted_at = stay.admitted_at
    # A month on a wearable is tens of thousands of scores: each figure is its own small query
    # (the score_patient_time index), never the whole history loaded into memory.
    scores = EarlyWarningScore.objects.filter(patient=patient, as_of__gte=admitted_at, as_of__lte=discharged_at)
    last = scores.order_by("-as_of", "-id").first()
    # Every device used in the stay: those that sent its readings, were paired to the patient,
    # or (unpaired at discharge) are waiting to be collected.
    used = (
        Q(patient=patient)
        | Q(pk__in=Observation.objects.filter(patient=patient, measured_at__gte=admitted_at).values("device"))
        | Q(pk__in=PairingCode.objects.filter(patient=patient, device__isnull=False).values("device"))
        | Q(pk__in=KitTask.objects.filter(patient=patient).values("device"))
    )
    devices = list(Device.objects.filter(used).order_by("kind", "serial"))
    sections = [
        _reason_for_admission(stay),
        _course(stay, scores, discharged_at),
        _alerts(patient, admitted_at, discharged_at),
        _devices(devices),
        _plan(stay),
        Section(codes.heading("information-and-advice-given", "Information and advice given"),
                "Information and advice given",
                ["No advice given to the patient was recorded on the virtual ward platform."]),
    ]  # fmt: skip
    return Summary(patient, stay, admitted_at, discharged_at, author, last, devices, sections)


def _reason_for_admission(stay: Stay) -> Section:
    ward = stay.ward
    lines = [
        f"Admitted to {ward.name} ({stay.get_pathway_display()} pathway) on {when(stay.admitted_at)} "
        f"for remote monitoring at home: {stay.get_direction_display()}.",
        f"Reason: {stay.reason}" if stay.reason else "No reason for admission was recorded.",
        f"Referred by: {stay.get_referral_source_display()}" + (f" ({stay.referrer})." if stay.referrer else "."),
    ]
    if stay.is_readmission:
        lines.append("A readmission within 30 days of a previous stay on the virtual ward.")
    return Section(codes.heading("reason-for-admission", "Reason for admission"), "Reason for admission", lines)


def _plan(stay: Stay) -> Section:
    lines = []
    if stay.outcome:
        lines.append(
            f"Outcome: {stay.get_outcome_display()}" + (f" ({stay.destination})." if stay.destination else ".")
        )
    lines.append(
        f"Discharge note: {stay.discharge_note}"
        if stay.discharge_note
        else "No plan or requested action was recorded on the virtual ward platform."
    )
    heading = codes.heading("plan-and-requested-actions", "Plan and requested actions")
    return Section(heading, "Plan and requested actions", lines)


def _course(stay: Stay, scores: QuerySet[EarlyWarningScore], discharged_at: datetime) -> Section:
    days = stay.length_of_stay_days(discharged_at)
    lines = [f"On the virtual ward {days} day(s), from {when(stay.admitted_at)} to {when(discharged_at)}."]
    entries: list[tuple[str, str]] = []
    last = scores.order_by("-as_of", "-id").first()
    if last is None:
        lines.append("No NEWS2 score was computed during the stay (no readings were received).")
    else:
        highest = scores.order_by("-total", "-as_of", "-id").first()
        assert highest is not None
        state = "complete" if last.complete else "incomplete: " + _absent(last) + "; the score is a lower bound"
        lines.append(
            f"Last NEWS2: {last.total} ({last.get_risk_display().lower()} risk) at {when(last.as_of)}, "
            f"SpO2 Scale {last.spo2_scale}, {state}."
        )
        lines.append(f"Highest NEWS2 during the stay: {highest.total} at {when(highest.as_of)}.")
        recent = list(
            scores.filter(as_of__gte=last.as_of - TREND_WINDOW).order_by("as_of", "id").values_list("total", flat=True)
        )
        lines.append(f"Trend: {_trend(recent)}")
        lines.append(f"{scores.count()} scores were computed during the stay.")
        entries.append(("Observation", f"news2-{last.pk}"))
    return Section(codes.heading("clinical-summary", "Clinical summary"), "Course on the virtual ward", lines, entries)


def _absent(score: EarlyWarningScore) -> str:
    absent = dict.fromkeys([*score.missing, *score.stale])
    return "no current " + ", ".join(PARAMETER_NAMES.get(name, name).lower() for name in absent)


def _trend(totals: list[int]) -> str:
    """The last 24 hours' totals, at most TREND_POINTS of them evenly spread, ending at the last."""
    step = max(len(totals) // TREND_POINTS, 1)
    points = totals[::-1][::step][:TREND_POINTS][::-1]
    shown = " → ".join(str(total) for total in points)
    if len(points) < 2:
        return f"{shown} (one score in the last 24 hours of the stay)."
    first, last = points[0], points[-1]
    direction = "rising" if last > first else "falling" if last < first else "unchanged"
    return f"{shown} over the last 24 hours of the stay ({direction})."


def _alerts(patient: Patient, admitted_at: datetime, discharged_at: datetime) -> Section:
    alerts = list(
        Alert.objects.filter(patient=patient, opened_at__gte=admitted_at, opened_at__lte=discharged_at)
        .select_related("resolved_by")
        .order_by("opened_at", "id")
    )
    clinical = [alert for alert in alerts if alert.kind in CLINICAL_KINDS]
    notes = _resolution_notes([alert.pk for alert in clinical])
    lines = [] if clinical else ["No clinical alert was raised during the stay."]
    for alert in clinical:
        done = alert.get_outcome_display() if alert.outcome else "not yet closed at discharge"
        note = notes.get(alert.pk)
        closed = f", closed {when(alert.resolved_at)}" if alert.resolved_at else ""
        lines.append(
            f"{when(alert.opened_at)}: {alert.title} ({alert.get_severity_display()}). "
            f"Done: {done}{closed}{': ' + note if note else ''}."
        )
    technical = len(alerts) - len(clinical)
    if technical:
        lines.append(f"{technical} technical alert(s) (devices, connectivity) were raised and handled by the team.")
    return Section(codes.heading("alerts", "Alerts"), "Alerts and what was done", lines)


def _resolution_notes(alert_ids: list[int]) -> dict[int, str]:
    events = AlertEvent.objects.filter(alert_id__in=alert_ids, action=AlertEvent.Action.RESOLVED).exclude(note="")
    return {event.alert_id: event.note for event in events.order_by("at")}


def _devices(devices: list[Device]) -> Section:
    lines = [f"{device.get_kind_display()}, serial {device.serial}" for device in devices]
    return Section(
        codes.heading("medical-devices", "Medical devices"),
        "Devices used",
        lines or ["No monitoring device was paired during the stay."],
        [("Device", str(device.pk)) for device in devices],
    )
