"""What a notification says: the least patient data that still lets the recipient act.

No name, no NHS number, no date of birth on any channel: the ward, what kind of alert, how
urgent, the current NEWS2 where it is a clinical alert, how long it has waited, and two links
(open it after signing in; acknowledge it from here). Who the patient is waits behind log-in.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from alerts.models import CLINICAL_KINDS, Alert
from rota.links import ack_link, alert_link, incident_link


def compose(alert: Alert, *, person_id: int, reason: str) -> tuple[str, str]:
    """(subject, body) for one person; the same words on every channel (SMS is the short one)."""
    clinical = alert.kind in CLINICAL_KINDS
    urgency = alert.get_severity_display().upper()
    kind = "clinical" if clinical else "technical"
    subject = f"Virtual ward: {urgency} {kind} alert - {alert.patient.ward.name}"
    score = alert.patient.current_score if clinical else None
    now = f" NEWS2 now {score.total}." if score is not None else ""
    raised = timezone.localtime(alert.reopened_at or alert.opened_at).strftime("%H:%M")
    body = (
        f"{urgency} {kind} alert on {alert.patient.ward.name}: {alert.get_kind_display().lower()}.{now} "
        f"Raised {raised}, not yet acknowledged. You: {reason}.\n"
        f"Open (sign-in needed): {alert_link(alert.pk)}\n"
        f"Acknowledge: {ack_link(alert_id=alert.pk, person_id=person_id)}"
    )
    return subject, body


def compose_incident(incident: Any, *, reason: str, silent: int, at_risk: int) -> tuple[str, str]:
    """(subject, body) about a connectivity incident: counts and a link, no patient at all."""
    since = timezone.localtime(incident.started_at).strftime("%H:%M")
    subject = f"Virtual ward: connectivity incident - {silent} devices silent"
    body = (
        f"Connectivity incident: {silent} device{'s' if silent != 1 else ''} on {incident.label} silent since "
        f"{since}; {at_risk} patient{'s' if at_risk != 1 else ''} at medium or high risk when last heard from. "
        f"Not yet acknowledged. You: {reason}.\n"
        f"Open (sign-in needed): {incident_link(incident.pk)}"
    )
    return subject, body
