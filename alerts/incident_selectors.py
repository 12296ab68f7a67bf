"""Reads of connectivity incidents for the board: the headline and who to phone first."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from alerts.incident_models import ConnectivityIncident, IncidentMember, IncidentState
from patients.models import Patient

# Who to phone first: the risk the patient was at when last heard from. Never scored ranks
# above low-medium, as on the board: a missing score is not a reassuring one.
RISK_RANK = {"high": 4, "medium": 3, "": 2.5, "low-medium": 2, "low": 1}
AT_RISK = ("medium", "high")
SHOWN_MEMBERS = 25


def member_rank(member: dict[str, Any]) -> tuple:
    """Highest risk first; then the higher NEWS2, Scale 2, on oxygen; then the longest silent."""
    return (
        -RISK_RANK.get(member["risk"], 0),
        -(member["news2_total"] if member["news2_total"] is not None else -1),
        member["spo2_scale"] != 2,
        not member["on_oxygen"],
        member["silent_since"],
    )


def open_incidents(*, patients: QuerySet[Patient], limit: int = SHOWN_MEMBERS) -> list[dict[str, Any]]:
    """Open incidents with devices of these patients, each with its still-silent patients ranked."""
    members = (
        IncidentMember.objects.filter(
            incident__state=IncidentState.OPEN,
            returned_at__isnull=True,
            released_at__isnull=True,
            patient__in=patients,
        )
        .values(
            "incident_id", "patient_id", "device_id", "silent_since", "risk", "news2_total", "spo2_scale", "on_oxygen",
            "patient__given_name", "patient__family_name", "patient__nhs_number", "patient__ward__name",
        )
    )  # fmt: skip
    by_incident: dict[int, list[dict[str, Any]]] = {}
    for member in members:
        by_incident.setdefault(member["incident_id"], []).append(member)
    incidents = (
        ConnectivityIncident.objects.filter(pk__in=list(by_incident))
        .select_related("acknowledged_by", "assigned_to")
        .prefetch_related("notifications__recipient")
        .order_by("opened_at", "pk")
    )
    return [_incident_summary(incident, by_incident[incident.pk], limit) for incident in incidents]


def _incident_summary(incident: ConnectivityIncident, members: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    members.sort(key=member_rank)
    at_risk = {m["patient_id"] for m in members if m["risk"] in AT_RISK}
    since = timezone.localtime(incident.started_at).strftime("%H:%M")
    count = len(members)
    headline = (
        f"{count} device{'s' if count != 1 else ''} on {incident.label} silent since {since}, "
        f"{len(at_risk)} patient{'s' if len(at_risk) != 1 else ''} at medium or high risk"
    )
    return {
        "id": incident.pk,
        "label": incident.label,
        "group_kind": incident.group_kind,
        "headline": headline,
        "started_at": incident.started_at,
        "opened_at": incident.opened_at,
        "silent": count,
        "at_risk": len(at_risk),
        "members": [
            {
                "patient_id": m["patient_id"],
                "name": f"{m['patient__given_name']} {m['patient__family_name']}",
                "nhs_number": m["patient__nhs_number"],
                "ward_name": m["patient__ward__name"],
                "risk": m["risk"] or None,
                "news2_total": m["news2_total"],
                "spo2_scale": m["spo2_scale"],
                "on_oxygen": m["on_oxygen"],
                "silent_since": m["silent_since"],
            }
            for m in members[:limit]
        ],
        "more": max(count - limit, 0),
        **_handling(incident),
    }


def _handling(incident: ConnectivityIncident) -> dict[str, Any]:
    """Who has it: acknowledged by whom, its owner, and the messages its ladder sent."""

    def name(user: Any) -> str | None:
        return (user.get_full_name() or user.get_username()) if user is not None else None

    return {
        "acknowledged_at": incident.acknowledged_at,
        "acknowledged_by": name(incident.acknowledged_by),
        "assigned_to": name(incident.assigned_to),
        "assigned_to_id": incident.assigned_to_id,
        "notifications": [
            {
                "to": name(n.recipient),
                "channel": n.get_channel_display(),
                "state": n.get_state_display(),
                "reason": n.reason,
                "at": n.created_at,
                "error": n.error,
            }
            for n in incident.notifications.all()
        ],
    }


def folded_alert_ids() -> QuerySet[IncidentMember]:
    """The alerts folded under an open incident: told by the incident, not one by one in the queue."""
    return IncidentMember.objects.filter(
        incident__state=IncidentState.OPEN, released_at__isnull=True, alert__isnull=False
    ).values("alert_id")
