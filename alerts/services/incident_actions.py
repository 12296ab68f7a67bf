"""What the command centre does to a connectivity incident: acknowledge it, give it an owner.

Like an alert's actions (alerts.services.actions): who may act is checked (the user must see
every ward the incident touches: an incident is one piece of work, not a share of one), the
incident is re-read under a row lock, the change is recorded in the audit trail and told to the
boards after commit. Its folded dropouts inherit: each live folded 'device offline' alert is
acknowledged or given the same owner, with an event in its own timeline saying why, so a
straggler that later comes out of the fold is already owned. Acknowledging stops the
incident's escalation ladder (rota.services.incident_ladder_advance).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.access import can_triage, role_of, sees_all_wards, visible_wards
from accounts.audit import audit_record_each
from alerts.incident_models import ConnectivityIncident, IncidentMember, IncidentState
from alerts.models import Alert, AlertEvent, AlertState
from alerts.services.actions import AlertActionError, AlertPermissionError, AlertStateError
from frontend.events import publish


def incident_wards(incident: ConnectivityIncident) -> set[int]:
    return set(IncidentMember.objects.filter(incident=incident).values_list("patient__ward_id", flat=True))


def sees_incident(user: Any, incident: ConnectivityIncident) -> bool:
    """Whether ``user`` sees every ward the incident touches (operators and administrators always)."""
    if role_of(user) is None:
        return False
    if sees_all_wards(user):
        return True
    return incident_wards(incident) <= set(visible_wards(user).values_list("pk", flat=True))


def incident_acknowledge(*, incident: ConnectivityIncident, user: Any) -> ConnectivityIncident:
    def change(locked: ConnectivityIncident, now: datetime) -> dict:
        if locked.acknowledged_at is not None:
            who = _name(locked.acknowledged_by) if locked.acknowledged_by else "someone"
            raise AlertStateError(f"Cannot acknowledge this incident: it was already acknowledged by {who}.")
        locked.acknowledged_at, locked.acknowledged_by = now, user
        data: dict[str, Any] = {}
        if locked.assigned_to_id is None:
            locked.assigned_to = user  # as with an alert: an acknowledged incident always has an owner
            data = {"took_ownership": True, "assignee_id": user.pk, "assignee": _name(user)}
        data["alerts"] = _inherit(locked, now, user, acknowledge=True)
        return data

    return _act(incident, user, "acknowledged", change)


def incident_assign(*, incident: ConnectivityIncident, user: Any, assignee: Any) -> ConnectivityIncident:
    def change(locked: ConnectivityIncident, now: datetime) -> dict:
        if assignee is None or not sees_incident(assignee, locked):
            raise AlertActionError("That person cannot be assigned this incident: it spans wards they do not work on.")
        if locked.assigned_to_id == assignee.pk:
            raise AlertStateError(f"The incident is already assigned to {_name(assignee)}.")
        before = locked.assigned_to_id
        locked.assigned_to = assignee
        alerts = _inherit(locked, now, user, acknowledge=False)
        return {
            "assignee_id": assignee.pk,
            "assignee": _name(assignee),
            "previous_assignee_id": before,
            "alerts": alerts,
        }

    return _act(incident, user, "assigned", change)


def inherit_on_fold(incident: ConnectivityIncident, alert_ids: list[int], now: datetime) -> None:
    """Dropouts folded under an incident already acknowledged or owned take its state at once."""
    if incident.acknowledged_at is None and incident.assigned_to_id is None:
        return
    _apply(incident, Alert.objects.filter(pk__in=alert_ids, state__in=(AlertState.OPEN, AlertState.ACKNOWLEDGED)),
           now, actor=None, acknowledge=incident.acknowledged_at is not None)  # fmt: skip


def _inherit(incident: ConnectivityIncident, now: datetime, user: Any, *, acknowledge: bool) -> int:
    folded = IncidentMember.objects.filter(incident=incident, released_at__isnull=True, alert__isnull=False)
    alerts = Alert.objects.filter(
        pk__in=folded.values("alert_id"), state__in=(AlertState.OPEN, AlertState.ACKNOWLEDGED)
    )
    return _apply(incident, alerts, now, actor=user, acknowledge=acknowledge)


def _apply(incident: ConnectivityIncident, alerts: Any, now: datetime, *, actor: Any, acknowledge: bool) -> int:
    """Set the folded alerts' owner (and acknowledgement) in two statements, with one event each."""
    owner_id = incident.assigned_to_id
    why = f"With connectivity incident {incident.pk} ({incident.label})."
    events = []
    if acknowledge:
        opened = list(alerts.filter(state=AlertState.OPEN).values_list("pk", flat=True))
        Alert.objects.filter(pk__in=opened).update(
            state=AlertState.ACKNOWLEDGED, acknowledged_at=now, acknowledged_by_id=incident.acknowledged_by_id,
            updated_at=now,
        )  # fmt: skip
        events += [(pk, AlertEvent.Action.ACKNOWLEDGED) for pk in opened]
    moved = list(alerts.exclude(assigned_to_id=owner_id).values_list("pk", flat=True)) if owner_id else []
    Alert.objects.filter(pk__in=moved).update(assigned_to_id=owner_id, updated_at=now)
    events += [(pk, AlertEvent.Action.ASSIGNED) for pk in moved]
    data = {"incident_id": incident.pk, "assignee_id": owner_id}
    AlertEvent.objects.bulk_create(
        AlertEvent(alert_id=pk, action=action, actor=actor, at=now, note=why, data=data) for pk, action in events
    )
    return len({pk for pk, _ in events})


def _act(
    incident: ConnectivityIncident, user: Any, action: str, change: Callable[[ConnectivityIncident, datetime], dict]
) -> ConnectivityIncident:
    if not can_triage(user) or not sees_incident(user, incident):
        raise AlertPermissionError("You may not act on this incident: it spans wards you do not work on.")
    with transaction.atomic():
        locked = ConnectivityIncident.objects.select_for_update().get(pk=incident.pk)
        if locked.state != IncidentState.OPEN:
            raise AlertStateError(f"Cannot change this incident: it closed at {locked.closed_at:%Y-%m-%d %H:%M %Z}.")
        now = timezone.now()
        data = change(locked, now)
        locked.updated_at = now
        locked.save()
        # One event per patient under it: their alerts' owner (and acknowledgement) changed too.
        patients = sorted(set(IncidentMember.objects.filter(incident=locked).values_list("patient_id", flat=True)))
        detail = {**data, "label": locked.label}
        audit_record_each(actor=user, action=f"incident.{action}", patients=patients, obj=locked, detail=detail)
        payload = incident_to_dict(locked)
        for ward_id in sorted(incident_wards(locked)):
            publish("incident.updated", ward_id=ward_id, data=payload)
    return locked


def incident_to_dict(incident: ConnectivityIncident) -> dict[str, Any]:
    return {
        "id": incident.pk,
        "state": incident.state,
        "label": incident.label,
        "acknowledged_at": incident.acknowledged_at.isoformat() if incident.acknowledged_at else None,
        "acknowledged_by": _name(incident.acknowledged_by) if incident.acknowledged_by else None,
        "assigned_to": _name(incident.assigned_to) if incident.assigned_to else None,
        "assigned_to_id": incident.assigned_to_id,
    }


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()
