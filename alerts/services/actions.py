"""What the command centre does to alerts: acknowledge, assign, note, escalate, resolve.

Each action checks who may act (accounts.access), re-reads the alert under a row lock so two
people acting at once see each other's work, validates the transition, records an AlertEvent
and an AuditEvent, and publishes ``alert.updated`` after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.access import can_triage, can_view_patient, role_of
from accounts.audit import audit_record
from alerts import present
from alerts.models import CLINICAL_KINDS, Alert, AlertEvent, AlertKind, AlertState, Outcome, Severity
from alerts.selectors import alert_to_dict
from alerts.services.core import LIVE_STATES, record_event
from frontend.events import publish

MAX_NOTE_CHARS = 4000
# A review set while the patient is still in band: at least a few minutes away (sooner is
# "stay with the alert"), at most a day (the RCP's slowest monitoring for a scored patient).
MIN_REVIEW = timedelta(minutes=5)
MAX_REVIEW = timedelta(hours=24)


class AlertActionError(Exception):
    """An action that is not allowed in the alert's current state, or with these arguments."""


class AlertPermissionError(AlertActionError):
    """The user may not act on this alert."""


class AlertStateError(AlertActionError):
    """The action does not fit the alert's current state (someone else may have got there first)."""


def alert_acknowledge(*, alert: Alert, user: Any) -> Alert:
    def change(locked: Alert, now: datetime) -> dict:
        if locked.state != AlertState.OPEN:
            raise AlertStateError(_state_message(locked, "acknowledge"))
        locked.state = AlertState.ACKNOWLEDGED
        locked.acknowledged_at = now
        locked.acknowledged_by = user
        if locked.assigned_to_id is None:
            # Acknowledging an alert nobody owns takes it: an acknowledged alert always has an owner.
            locked.assigned_to = user
            return {"took_ownership": True, "assignee_id": user.pk, "assignee": _name(user)}
        return {}

    return _act(alert, user, AlertEvent.Action.ACKNOWLEDGED, change)


def alert_assign(*, alert: Alert, user: Any, assignee: Any) -> Alert:
    def change(locked: Alert, now: datetime) -> dict:
        _require_live(locked, "assign")
        # One answer, without a name, for anyone who may not take the alert: the caller may not
        # know who a user id is, and must not learn it (or whether it is staff) from here.
        if assignee is None or role_of(assignee) is None or not can_view_patient(assignee, locked.patient_id):
            raise AlertActionError("That person cannot be assigned alerts on this patient's ward.")
        if locked.assigned_to_id == assignee.pk:
            raise AlertStateError(f"The alert is already assigned to {_name(assignee)}.")
        before = locked.assigned_to_id
        locked.assigned_to = assignee
        return {"assignee_id": assignee.pk, "assignee": _name(assignee), "previous_assignee_id": before}

    return _act(alert, user, AlertEvent.Action.ASSIGNED, change)


def alert_add_note(*, alert: Alert, user: Any, note: str) -> Alert:
    text = _clean_note(note, required=True)

    def change(locked: Alert, now: datetime) -> dict:
        return {}  # a note changes nothing but the history; allowed after resolution too

    return _act(alert, user, AlertEvent.Action.NOTE, change, note=text)


def alert_escalate(
    *, alert: Alert, user: Any, note: str = "", recipient: Any = None, recipient_label: str = ""
) -> Alert:
    """Escalate: to a named person (who then owns the alert), or else one severity step up.

    ``rota.services.alert_escalate_to`` picks the person on duty and notifies them.
    """
    text = _clean_note(note)

    def change(locked: Alert, now: datetime) -> dict:
        _require_live(locked, "escalate")
        locked.escalated_at = now
        if recipient is not None:
            before = locked.assigned_to_id
            locked.assigned_to = recipient
            label = recipient_label or _name(recipient)
            return {"recipient": label, "recipient_id": recipient.pk, "previous_assignee_id": before}
        if locked.severity >= Severity.HIGH:
            raise AlertStateError(
                "The alert is already at the highest severity (high): escalate it to a person on duty instead."
            )
        before = locked.severity
        locked.severity = min(s for s in Severity.values if s > before)
        return {"severity_before": before, "severity": locked.severity}

    return _act(alert, user, AlertEvent.Action.ESCALATED, change, note=text)


def alert_resolve(
    *, alert: Alert, user: Any, outcome: str, note: str = "", review_by: datetime | None = None
) -> Alert:
    """Close the alert with its outcome; while the patient is still in band, only with a review.

    A clinical alert whose patient is still in its band (alerts.present.still_in_band) needs a
    review-by time: at that time the review sweep brings it back if they still are. A HIGH risk
    alert is never closed while the patient is HIGH: the outcome and review are recorded and the
    alert stays live, owned by whoever recorded them, so a HIGH patient always has one.
    """
    text = _clean_note(note)
    if outcome not in Outcome.values:
        raise AlertActionError(f"Unknown outcome {outcome!r}; choose one of {', '.join(Outcome.values)}.")
    if outcome == Outcome.AUTO_RESOLVED:
        # Only the system resolves automatically, and never a clinical alert: a person closes it.
        kind = "A clinical alert" if alert.kind in CLINICAL_KINDS else "An alert"
        raise AlertActionError(f"{kind} resolved by a person needs a real outcome, not 'auto_resolved'.")

    def change(locked: Alert, now: datetime) -> dict:
        _require_live(locked, "resolve")
        score = locked.patient.current_score
        in_band = locked.kind in CLINICAL_KINDS and present.still_in_band(locked, score)
        if in_band:
            _check_review(score, review_by, now)
        data = {"outcome": outcome, "review_by": review_by.isoformat() if review_by else None}
        locked.outcome = outcome
        locked.review_by = review_by
        if in_band and locked.kind == AlertKind.NEWS2_RISK and locked.severity >= Severity.HIGH:
            locked.state = AlertState.ACKNOWLEDGED
            locked.acknowledged_at = locked.acknowledged_at or now
            locked.acknowledged_by = locked.acknowledged_by or user
            locked.assigned_to = locked.assigned_to or user
            return {**data, "action": AlertEvent.Action.REVIEW_PLANNED, "kept_open": "patient still HIGH"}
        locked.state = AlertState.RESOLVED
        locked.resolved_at = now
        locked.resolved_by = user
        return data

    return _act(alert, user, AlertEvent.Action.RESOLVED, change, note=text)


def _check_review(score: Any, review_by: datetime | None, now: datetime) -> None:
    figure = "no score"
    if score is not None:
        figure = f"NEWS2 {score.total}, {present.BAND_LABEL.get(score.risk, score.risk).lower()} risk"
    if review_by is None:
        raise AlertActionError(
            f"The patient is still in this alert's band ({figure}): choose when to review them. "
            "The alert comes back then if they still are."
        )
    if review_by.tzinfo is None or review_by.utcoffset() is None:
        raise AlertActionError("The review time needs a UTC offset or Z, e.g. 2026-11-23T10:30:00Z.")
    if review_by < now + MIN_REVIEW:
        raise AlertActionError("The review must be at least 5 minutes from now; sooner, keep the alert open.")
    if review_by > now + MAX_REVIEW:
        raise AlertActionError("The review must be within 24 hours while the patient is still in band.")


def _act(alert: Alert, user: Any, action: str, change: Callable[[Alert, datetime], dict], note: str = "") -> Alert:
    if not can_triage(user) or not can_view_patient(user, alert.patient_id):
        raise AlertPermissionError("You may not act on alerts for this patient.")
    with transaction.atomic():
        locked = Alert.objects.select_for_update(of=("self",)).select_related("patient").get(pk=alert.pk)
        now = timezone.now()
        data = change(locked, now)
        action = data.pop("action", action)
        locked.updated_at = now
        locked.save()
        record_event(locked, action, at=now, actor=user, note=note, data=data)
        audit_record(
            actor=user,
            action=f"alert.{action}",
            patient=locked.patient,
            obj=locked,
            detail={**data, "kind": locked.kind, **({"note": note} if note else {})},
        )
        publish(
            "alert.updated", ward_id=locked.patient.ward_id, patient_id=locked.patient_id, data=alert_to_dict(locked)
        )
    return locked


def _require_live(alert: Alert, verb: str) -> None:
    if alert.state not in LIVE_STATES:
        raise AlertStateError(_state_message(alert, verb))


def _state_message(alert: Alert, verb: str) -> str:
    if alert.state == AlertState.RESOLVED:
        return f"Cannot {verb} this alert: it was already resolved at {alert.resolved_at:%Y-%m-%d %H:%M %Z}."
    if alert.state == AlertState.ACKNOWLEDGED:
        who = _name(alert.acknowledged_by) if alert.acknowledged_by else "someone"
        return f"Cannot {verb} this alert: it was already acknowledged by {who}."
    return f"Cannot {verb} this alert in state {alert.state}."


def _clean_note(note: str | None, *, required: bool = False) -> str:
    text = (note or "").strip()
    if required and not text:
        raise AlertActionError("A note cannot be empty.")
    if len(text) > MAX_NOTE_CHARS:
        raise AlertActionError(f"A note can be at most {MAX_NOTE_CHARS} characters (this one is {len(text)}).")
    return text


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()
