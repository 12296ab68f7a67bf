"""Reads of alerts, always through who-may-see-what, and the JSON shape API and websockets share."""

from __future__ import annotations

from typing import Any

from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from accounts.access import AnyUser, visible_patients
from alerts import present
from alerts.incident_selectors import folded_alert_ids
from alerts.models import CLINICAL_KINDS, Alert, AlertEvent, AlertKind, AlertState, Category
from alerts.timeline import timeline, timeline_entry_to_dict
from careplan.selectors import live_limits_prefetch
from patients.models import Patient

# What the command centre needs to tell apart at a glance: a patient getting worse, a patient
# we are not hearing from, and a device that needs attention but is still reporting.
REASONS = {
    AlertKind.NEWS2_RISK: "deteriorating",
    AlertKind.SINGLE_PARAMETER: "deteriorating",
    AlertKind.FALL: "deteriorating",
    AlertKind.DEVICE_OFFLINE: "not_heard_from",
    AlertKind.OBSERVATIONS_OVERDUE: "not_heard_from",
    AlertKind.LOW_BATTERY: "device_attention",
    # A message to a person about an alert could not be delivered: the command centre must
    # reach them another way.
    AlertKind.NOTIFICATION_FAILED: "not_delivered",
    # The patient told us they are worse (a red-flag answer), or has not told us at all.
    AlertKind.CHECKIN_RED_FLAG: "deteriorating",
    AlertKind.CHECKIN_OVERDUE: "not_heard_from",
    # Paperwork that keeps alerting honest: an agreement past its review date.
    AlertKind.AGREED_REVIEW_DUE: "care_plan_review",
    # The discharge summary did not reach the GP's system: someone must send it another way.
    AlertKind.FHIR_DELIVERY_FAILED: "not_delivered",
}
LIVE_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED)


def visible_alerts(user: AnyUser) -> QuerySet[Alert]:
    return (
        Alert.objects.filter(patient__in=visible_patients(user))
        .select_related("patient__current_score", "device", "acknowledged_by", "assigned_to", "resolved_by")
        # Each card says whether the patient's score is within their agreed parameters.
        .prefetch_related(live_limits_prefetch("patient__agreed_limits"))
    )


def _rank(condition: Any) -> Case:
    return Case(When(condition, then=Value(0)), default=Value(1), output_field=IntegerField())


def alert_queue(user: AnyUser) -> QuerySet[Alert]:
    """Live alerts the user may see, the most urgent unowned work first.

    The rule (docs/alerting.md, "The triage queue"): severity first (a HIGH alert someone owns
    still outranks a MEDIUM nobody does); within a severity, alerts nobody owns, then alerts
    nobody has acknowledged, then clinical before technical, then the longest waiting. Snoozed
    technical alerts come after all the rest until their snooze ends.
    """
    return (
        visible_alerts(user)
        .filter(state__in=LIVE_STATES)
        # A dropout folded under an open connectivity incident is told by the incident (board).
        .exclude(pk__in=folded_alert_ids())
        .annotate(
            owned_rank=_rank(Q(assigned_to__isnull=True)),
            acknowledged_rank=_rank(Q(state=AlertState.OPEN)),
            category_rank=_rank(Q(category=Category.CLINICAL)),
            awake_rank=_rank(Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=timezone.now())),
        )
        .order_by("awake_rank", "-severity", "owned_rank", "acknowledged_rank", "category_rank", "opened_at", "id")
    )


def alert_list(
    user: AnyUser, *, state: str | None = None, kind: str | None = None, ward_id: int | None = None
) -> QuerySet[Alert]:
    """The queue by default; with ``state`` any state (``live`` or ``all`` too), newest first."""
    if state in (None, "", "live"):
        alerts = alert_queue(user)
    else:
        alerts = visible_alerts(user).order_by("-opened_at", "-id")
        if state != "all":
            alerts = alerts.filter(state=state)
    if kind:
        alerts = alerts.filter(kind=kind)
    if ward_id is not None:
        alerts = alerts.filter(patient__ward_id=ward_id)
    return alerts


def alert_events(alert: Alert) -> QuerySet[AlertEvent]:
    return alert.events.select_related("actor").order_by("at", "id")


def _user_dict(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.pk, "username": user.get_username(), "name": user.get_full_name() or user.get_username()}


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def current_score_if_loaded(patient: Patient) -> Any:
    """The patient's current score when it came with the patient (select_related), else None.

    Alerts are shaped inside the scoring transaction too, where one more query per alert would
    slow every alert's event; there the headline simply carries no current figure.
    """
    field = Patient._meta.get_field("current_score")
    if patient.current_score_id is None or not field.is_cached(patient):
        return None
    return patient.current_score


def alert_to_dict(alert: Alert) -> dict[str, Any]:
    """An alert as the API and the dashboard show it."""
    patient = alert.patient
    device = alert.device if alert.device_id is not None else None
    score = current_score_if_loaded(patient)
    now = present.patient_now(alert, score)
    return {
        "id": alert.pk,
        "kind": alert.kind,
        "kind_label": AlertKind(alert.kind).label,
        "category": "clinical" if alert.kind in CLINICAL_KINDS else "technical",
        "reason": REASONS[AlertKind(alert.kind)],
        "severity": alert.severity,
        "severity_label": alert.get_severity_display(),
        "state": alert.state,
        "title": alert.title,
        "headline": present.headline(alert, score),
        "raised_for": present.raised_for(alert),
        "raised_total": alert.raised_total,
        "raised_risk": alert.raised_risk or None,
        # What agreed parameters made of the score when raised ({} when none applied).
        "agreed": alert.agreed or {},
        "now": {**now, "as_of": _iso(now["as_of"])} if now else None,
        "waiting_s": present.waiting_seconds(alert, timezone.now()),
        "owner": _user_dict(present.owner(alert)),
        "review_by": _iso(alert.review_by),
        "snoozed_until": _iso(alert.snoozed_until),
        "snooze_reason": alert.snooze_reason or None,
        "reopened_at": _iso(alert.reopened_at),
        "detail": alert.detail,
        "patient": {
            "id": patient.pk,
            "name": patient.name,
            "nhs_number": patient.nhs_number,
            "ward_id": patient.ward_id,
        },
        "patient_id": patient.pk,
        "ward_id": patient.ward_id,
        "device": {"id": device.pk, "device_id": device.device_id, "kind": device.kind, "mode": device.mode}
        if device
        else None,
        "score_id": alert.score_id,
        "opened_at": _iso(alert.opened_at),
        "updated_at": _iso(alert.updated_at),
        "escalated_at": _iso(alert.escalated_at),
        "acknowledged_at": _iso(alert.acknowledged_at),
        "acknowledged_by": _user_dict(alert.acknowledged_by),
        "assigned_to": _user_dict(alert.assigned_to),
        "resolved_at": _iso(alert.resolved_at),
        "resolved_by": _user_dict(alert.resolved_by),
        "outcome": alert.outcome or None,
    }


def alert_event_to_dict(event: AlertEvent) -> dict[str, Any]:
    return {
        "id": event.pk,
        "action": event.action,
        "at": event.at.isoformat(),
        "actor": _user_dict(event.actor),
        "note": event.note,
        "data": event.data,
    }


def alert_detail_to_dict(alert: Alert) -> dict[str, Any]:
    """One alert with its raw events and its timeline (who, when, what, in words)."""
    events = list(alert_events(alert))
    return {
        **alert_to_dict(alert),
        "events": [alert_event_to_dict(event) for event in events],
        "timeline": [timeline_entry_to_dict(entry) for entry in timeline(alert)],
    }
