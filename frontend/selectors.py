"""Reads behind the dashboard screens: the ward board, the patient page and its chart series.

Every read starts from ``accounts.access``, so a page, a websocket snapshot and a chart never
show a patient the user may not see. The ward board costs the same handful of queries for five
patients or fifty: current scores come through ``Patient.current_score``, the previous total
through a subquery, devices and open alerts through two prefetches.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Min, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from accounts.access import AnyUser, visible_patients, visible_wards
from accounts.models import Role
from alerts import reports
from alerts.incident_selectors import open_incidents
from alerts.models import Alert, AlertEvent, AlertState
from alerts.present import DRIVER_LABEL, SEVERITY_BAND, headline, trend_in_words
from alerts.selectors import alert_queue, current_score_if_loaded
from careplan.selectors import live_limits_prefetch
from devices.models import Connectivity, ConnectivityGap, Device, IngestRejection
from devices.network import network_to_dict
from devices.rejection_words import in_plain_words
from frontend.cards import alert_cards
from history.downsample import observation_series
from patients import present as present_patient
from patients.models import Patient, Ward
from scoring.models import EarlyWarningScore

RISK_RANK = {"high": 4, "medium": 3, "low-medium": 2, "low": 1}
# A patient with no score at all is not "low risk": nothing is known. They sort above low.
NO_SCORE_RANK = 1.5
RISK_LABELS = {"high": "High", "medium": "Medium", "low-medium": "Low–medium", "low": "Low"}
# One table each, kept with the alert presentation that also reads them.
SEVERITY_TO_RISK = SEVERITY_BAND
PARAMETER_LABELS = DRIVER_LABEL


@dataclass(frozen=True)
class BoardScope:
    """What a board shows: one ward, or every ward the user may see (``ward`` is None)."""

    ward: Ward | None
    wards: list[Ward]


def board_scope(*, user: AnyUser, ward_id: int | None) -> BoardScope | None:
    """The wards a board covers, or None when the user may not see the ward asked for."""
    wards = list(visible_wards(user).order_by("name"))
    if ward_id is None:
        return BoardScope(ward=None, wards=wards)
    chosen = next((ward for ward in wards if ward.pk == ward_id), None)
    return BoardScope(ward=chosen, wards=wards) if chosen else None


def board_patients(*, user: AnyUser, ward_id: int | None = None) -> QuerySet[Patient]:
    previous = (
        EarlyWarningScore.objects.filter(patient=OuterRef("pk"))
        .exclude(pk=OuterRef("current_score_id"))
        .order_by("-as_of", "-id")
    )
    # The soonest review a clinician booked when closing an alert still in band: the alert may
    # be resolved, so it is not among the live alerts prefetched below.
    next_review = (
        Alert.objects.filter(patient=OuterRef("pk"), review_by__isnull=False)
        .values("patient")
        .annotate(soonest=Min("review_by"))
        .values("soonest")
    )
    patients = (
        visible_patients(user)
        .filter(discharged_at__isnull=True)
        .select_related("ward", "current_score")
        .annotate(
            previous_total=Subquery(previous.values("total")[:1]),
            previous_as_of=Subquery(previous.values("as_of")[:1]),
            next_review_by=Subquery(next_review[:1]),
        )
        .prefetch_related(
            Prefetch("devices", queryset=Device.objects.filter(revoked_at__isnull=True).order_by("kind", "serial")),
            Prefetch(
                "alerts",
                queryset=Alert.objects.exclude(state=AlertState.RESOLVED).order_by("-severity", "opened_at"),
                to_attr="live_alerts",
            ),
        )
    )
    if ward_id is not None:
        patients = patients.filter(ward_id=ward_id)
    return patients


def ward_board(*, user: AnyUser, ward_id: int | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every active patient the user may see (on one ward, or all), the sickest first."""
    now = now or timezone.now()
    rows = [patient_row(patient, now=now) for patient in board_patients(user=user, ward_id=ward_id)]
    rows.sort(key=sickest_first)
    return rows


def board_incidents(*, user: AnyUser, ward_id: int | None = None) -> list[dict[str, Any]]:
    """Open connectivity incidents touching the board's patients, at-risk patients first."""
    patients = visible_patients(user).filter(discharged_at__isnull=True)
    if ward_id is not None:
        patients = patients.filter(ward_id=ward_id)
    return open_incidents(patients=patients)


def sickest_first(row: dict[str, Any]) -> tuple:
    """Band (the score's, or a live clinical alert's if worse), then total, silent first, name.

    The patient's id breaks the last tie, so two patients of the same name never swap places
    between two renders of the board.
    """
    score = row["score"]
    total = score["total"] if score else -1
    return (-board_rank(row), -total, not row["not_heard_from"], row["name"], row["id"])


def board_rank(row: dict[str, Any]) -> float:
    """How urgent a row is: its score's band, or a live clinical alert's band if that is worse."""
    score = row["score"]
    rank = RISK_RANK.get(score["risk"], 0) if score else NO_SCORE_RANK
    alert_rank = max((RISK_RANK.get(a["risk"], 0) for a in row["alerts"] if a["category"] == "clinical"), default=0)
    return max(rank, alert_rank)


def patient_row(patient: Patient, *, now: datetime) -> dict[str, Any]:
    score = patient.current_score
    previous_total = getattr(patient, "previous_total", None)
    devices = [device_summary(device, now=now) for device in patient.devices.all()]
    alerts = [alert_summary(alert) for alert in getattr(patient, "live_alerts", [])]
    return {
        "id": patient.pk,
        "name": patient.name,
        "sort_name": f"{patient.family_name}, {patient.given_name}",
        "age_sex": present_patient.age_sex(patient),
        "age_sex_label": present_patient.age_sex_label(patient),
        "nhs_number": patient.nhs_number,
        "ward_id": patient.ward_id,
        "ward_name": patient.ward.name,
        "spo2_scale": patient.spo2_scale,
        "score": score_summary(score) if score else None,
        "previous_total": previous_total,
        "trend": _trend(score.total if score else None, previous_total),
        # Words, not a coloured arrow: "worse since 10:40, was 5" (alerts.present).
        "trend_words": trend_in_words(
            score.total if score else None, previous_total, getattr(patient, "previous_as_of", None)
        ),
        "devices": devices,
        "alerts": alerts,
        "not_heard_from": bool(devices) and all(d["state"] != Connectivity.ONLINE for d in devices),
        "no_devices": not devices,
        "pathway": patient.ward.pathway,
        "review_by": getattr(patient, "next_review_by", None),
        "review_overdue": _overdue(getattr(patient, "next_review_by", None), now),
        "unowned_alerts": sum(1 for a in alerts if not a["owned"]),
        # When the board last heard anything from the patient: the latest of their devices.
        "heard_at": max((d["silent_since"] for d in devices if d["silent_since"]), default=None),
    }


def _overdue(moment: datetime | None, now: datetime) -> bool:
    return moment is not None and moment <= now


def _trend(current: int | None, previous: int | None) -> str | None:
    if current is None or previous is None:
        return None
    if current > previous:
        return "up"
    return "down" if current < previous else "same"


def score_summary(score: EarlyWarningScore) -> dict[str, Any]:
    sub_scores = score.sub_scores or {}
    drivers = [
        {
            "parameter": name,
            "label": PARAMETER_LABELS.get(name, name),
            "value": _driver_value(name, (sub_scores.get(name) or {}).get("value")),
            "score": (sub_scores.get(name) or {}).get("score"),
        }
        for name in PARAMETER_LABELS
    ]
    return {
        "id": score.pk,
        "total": score.total,
        "risk": score.risk,
        "risk_label": RISK_LABELS.get(score.risk, score.risk),
        "band": score.band,
        "spo2_scale": score.spo2_scale,
        "complete": score.complete,
        "missing": [PARAMETER_LABELS.get(name, name) for name in score.missing or []],
        "stale": [PARAMETER_LABELS.get(name, name) for name in score.stale or []],
        "single_parameter_3": score.single_parameter_3,
        "as_of": score.as_of,
        "drivers": [d for d in drivers if d["score"]],
        "clinical_response": score.clinical_response,
    }


def device_summary(device: Device, *, now: datetime) -> dict[str, Any]:
    low_battery = device.battery is not None and device.battery <= settings.VW_LOW_BATTERY_PERCENT
    return {
        "id": device.pk,
        "device_id": device.device_id,
        "kind": device.get_kind_display(),
        "serial": device.serial,
        "state": device.connectivity,
        "state_label": device.get_connectivity_display(),
        "offline_since": device.offline_since,
        "last_seen_at": device.last_seen_at,
        "last_reading_at": device.last_reading_at,
        # What "no data since" means to a clinician: the last reading, else the last contact.
        "silent_since": device.last_reading_at or device.last_seen_at or device.offline_since,
        "battery": device.battery,
        "low_battery": low_battery,
        "network": network_to_dict(device),
    }


def alert_summary(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "kind_label": alert.get_kind_display(),
        "category": alert.category,
        "severity": alert.severity,
        "risk": SEVERITY_TO_RISK.get(alert.severity, "low"),
        "state": alert.state,
        "title": alert.title,
        # The title is a record of when it was raised; screens show this, which never passes
        # a stale figure off as the patient's state now.
        "headline": headline(alert, current_score_if_loaded(alert.patient)),
        "patient_id": alert.patient_id,
        # Loaded with the alert by every caller (select_related or the reverse prefetch), so
        # the reminder banner can say whose alert it is without a query per alert.
        "patient_name": alert.patient.name,
        "patient_age_sex": present_patient.age_sex(alert.patient),
        "opened_at": alert.opened_at,
        "acknowledged_at": alert.acknowledged_at,
        "owned": alert.assigned_to_id is not None,
        "snoozed": alert.snoozed_until is not None and alert.snoozed_until > timezone.now(),
    }


def _driver_value(name: str, value: Any) -> Any:
    # The engine keeps "on oxygen" as a boolean; a chip reading "Air/O₂ True" means nothing on a ward.
    if name == "on_oxygen" and isinstance(value, bool):
        return "on oxygen" if value else "air"
    return _tidy(value)


def _tidy(value: Any) -> Any:
    # 26.0 breaths a minute reads better as 26; 39.2 °C keeps its decimal.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- Patient page ---------------------------------------------------------------------------


def patient_for_page(*, user: AnyUser, patient_id: int) -> Patient | None:
    return (
        visible_patients(user)
        .select_related("ward", "current_score", "spo2_scale_set_by")
        .filter(pk=patient_id)
        .first()
    )


def patient_page(*, patient: Patient, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    devices = Device.objects.filter(patient=patient).order_by("revoked_at", "kind", "serial")
    alerts = (
        Alert.objects.filter(patient=patient)
        .select_related("acknowledged_by", "assigned_to", "resolved_by")
        .prefetch_related(
            Prefetch("events", queryset=AlertEvent.objects.select_related("actor")),
            "notifications__recipient",
            live_limits_prefetch("patient__agreed_limits"),
        )
        .order_by("-opened_at")[:30]
    )
    scores = EarlyWarningScore.objects.filter(patient=patient).order_by("-as_of", "-id")[:30]
    return {
        "devices": [device_summary(device, now=now) | {"revoked": device.revoked_at is not None} for device in devices],
        "alerts": list(alerts),
        "alert_cards": alert_cards(list(alerts), now=now, score=patient.current_score),
        "scores": [score_summary(score) for score in scores],
        "scale_changes": list(patient.scale_changes.select_related("changed_by")[:10]),
    }


# About a month of five readings every ten minutes; a longer period starts later (see below).
SERIES_MAX_READINGS = 20_000


def patient_series(
    *, patient: Patient, since: datetime, until: datetime, with_rejections: bool = False
) -> dict[str, Any]:
    """Every reading and score in the period, with what a chart needs to draw gaps honestly.

    The one read behind the chart. Bounded by the partition key, and on PostgreSQL averaged per
    time bucket in the database for long periods (history.downsample, keeping each bucket's
    minimum and maximum). Whatever is left is capped at SERIES_MAX_READINGS points, the newest:
    when a long period holds more, the answer starts later and says so (``cut_from``), never
    silently dropping the recent end.
    """
    series = observation_series(patient_id=patient.pk, since=since, until=until)
    cut_from = None
    moments = sorted(point["t"] for points in series.values() for point in points)
    if len(moments) > SERIES_MAX_READINGS:
        # ISO-8601 strings in one offset (UTC) sort as the moments they name.
        first_kept = moments[-SERIES_MAX_READINGS]
        cut_from, since = since, datetime.fromisoformat(first_kept)
        series = {kind: [p for p in points if p["t"] >= first_kept] for kind, points in series.items()}
    scores = patient.scores.filter(as_of__gte=since, as_of__lte=until).order_by("as_of", "id")
    devices = list(Device.objects.filter(patient=patient).values("pk", "expected_interval_s"))
    result = {
        "patient_id": patient.pk,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "spo2_scale": patient.spo2_scale,
        "expected_interval_s": min((d["expected_interval_s"] for d in devices), default=None),
        "series": series,
        "scores": [{"t": s.as_of.isoformat(), "v": s.total, "risk": s.risk, "complete": s.complete} for s in scores],
        "gaps": _connectivity_gaps(patient, since, until),
        "rejections": [],
        "cut_from": _iso(cut_from),
    }
    if with_rejections:
        result["rejections"] = _rejections(devices, since, until)
    return result


def _connectivity_gaps(patient: Patient, since: datetime, until: datetime) -> list[dict[str, Any]]:
    gaps = ConnectivityGap.objects.filter(device__patient=patient, started_at__lte=until).exclude(ended_at__lt=since)
    return [{"start": g.started_at.isoformat(), "end": _iso(g.ended_at), "cause": g.get_cause_display()} for g in gaps]


def _rejections(devices: list[dict[str, Any]], since: datetime, until: datetime) -> list[dict[str, Any]]:
    rejections = IngestRejection.objects.filter(
        device_id__in=[d["pk"] for d in devices], received_at__gte=since, received_at__lte=until
    ).select_related("device")[:200]
    return [
        {
            "received_at": r.received_at.isoformat(),
            "device": r.device.serial if r.device else r.device_ref,
            "msg_id": r.msg_id,
            "index": r.index,
            "reason": r.reason,
            "plain": in_plain_words(r.reason),
        }
        for r in rejections
    ]


def default_period(now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or timezone.now()
    return now - timedelta(hours=24), now


# --- Triage ---------------------------------------------------------------------------------


def triage_queue(*, user: AnyUser) -> list[Alert]:
    """Every live alert the user may act on, across their wards, most urgent first."""
    queue = alert_queue(user)
    if isinstance(queue, QuerySet):
        queue = queue.select_related(
            "patient__ward", "patient__current_score", "device", "assigned_to", "acknowledged_by", "score"
        ).prefetch_related(
            Prefetch("events", queryset=AlertEvent.objects.select_related("actor")), "notifications__recipient"
        )
    return list(queue)


def assignable_staff(*, user: AnyUser) -> list[Any]:
    """Who an alert can be handed to: clinicians of the user's wards, and the command centre."""
    wards = visible_wards(user)
    staff = (
        get_user_model()
        .objects.filter(is_active=True, staff_profile__isnull=False)
        .filter(Q(wards__in=wards) | Q(staff_profile__role__in=[Role.OPERATOR, Role.ADMINISTRATOR]))
        .distinct()
        .order_by("last_name", "first_name", "username")
    )
    return list(staff)


def alert_for_user(*, user: AnyUser, alert_id: int) -> Alert | None:
    return (
        Alert.objects.filter(pk=alert_id, patient__in=visible_patients(user))
        .select_related("patient__ward", "assigned_to", "acknowledged_by")
        .first()
    )


def outcome_report(*, user: AnyUser, since: datetime, until: datetime) -> Any:
    """The NHS virtual-ward figures for the period, from ``alerts.reports``, for the user's wards."""
    return reports.alert_outcome_summary(since=since, until=until, wards=visible_wards(user))
