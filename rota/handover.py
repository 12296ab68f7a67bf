"""Shift hand-over: what the next person needs to know, and moving the outgoing person's alerts.

The view (``handover_view``) is computed when it is opened, for one ward or every ward the user
may see: patients of concern (current NEWS2 medium or high, an open clinical alert, or no device
heard from), open alerts with their owners, reviews due in the next 12 hours, and notes written
since the last accepted hand-over of the same scope. ``handover_accept`` moves every live alert
the outgoing person owns in scope to the incoming person, one ASSIGNED event per alert.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.access import can_view_patient, role_of, visible_patients
from accounts.audit import audit_record
from alerts.models import Alert, AlertEvent, AlertState
from alerts.selectors import alert_to_dict
from alerts.services import AlertActionError, AlertPermissionError
from alerts.services.core import record_event
from frontend.events import publish
from rota.models import Handover

LIVE = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
REVIEW_HORIZON = timedelta(hours=12)


def _scope(ward_id: int | None) -> Q:
    return Q(ward_id=ward_id) if ward_id is not None else Q(ward__isnull=True)


def handover_view(*, user: Any, ward_id: int | None, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    patients = visible_patients(user).filter(discharged_at__isnull=True).select_related("ward", "current_score")
    if ward_id is not None:
        patients = patients.filter(ward_id=ward_id)
    alerts = list(
        Alert.objects.filter(patient__in=patients, state__in=LIVE)
        .select_related("patient__ward", "patient__current_score", "assigned_to", "acknowledged_by")
        .order_by("-severity", "opened_at")
    )
    with_alerts = {alert.patient_id for alert in alerts if alert.category == "clinical"}
    concern = [
        p for p in patients if p.pk in with_alerts or (p.current_score and p.current_score.risk in ("medium", "high"))
    ]
    last = Handover.objects.filter(_scope(ward_id), accepted_at__isnull=False).order_by("-accepted_at").first()
    since = last.accepted_at if last else now - timedelta(hours=12)
    notes = (
        AlertEvent.objects.filter(alert__patient__in=patients, action=AlertEvent.Action.NOTE, at__gte=since)
        .select_related("actor", "alert__patient")
        .order_by("at")
    )
    reviews = Alert.objects.filter(patient__in=patients, review_by__isnull=False, review_by__lte=now + REVIEW_HORIZON)
    return {
        "patients_of_concern": sorted(concern, key=lambda p: -(p.current_score.total if p.current_score else -1)),
        "alerts": alerts,
        "reviews_due": list(reviews.select_related("patient").order_by("review_by")),
        "notes": list(notes),
        "notes_since": since,
        "pending": Handover.objects.filter(_scope(ward_id), accepted_at__isnull=True).select_related(
            "outgoing", "incoming"
        ),
        "generated_at": now,
    }


def handover_start(*, user: Any, ward: Any, incoming: Any, note: str = "") -> Handover:
    if role_of(user) is None or role_of(incoming) is None:
        raise AlertPermissionError("Only staff can hand over and take over.")
    if incoming.pk == user.pk:
        raise AlertActionError("Hand over to the person taking over, not to yourself.")
    if (
        ward is not None
        and not incoming.is_superuser
        and role_of(incoming) == "clinician"
        and not incoming.wards.filter(pk=ward.pk).exists()
    ):
        raise AlertActionError(f"{_name(incoming)} does not work on {ward.name}.")
    return Handover.objects.create(
        ward=ward, outgoing=user, incoming=incoming, note=note.strip()[:4000], created_at=timezone.now()
    )


def handover_accept(*, user: Any, handover_id: int) -> Handover:
    """The incoming person accepts: the outgoing person's live alerts in scope become theirs."""
    now = timezone.now()
    with transaction.atomic():
        handover = (
            Handover.objects.select_for_update(of=("self",))
            .select_related("outgoing", "incoming", "ward")
            .get(pk=handover_id)
        )
        if handover.incoming_id != user.pk:
            raise AlertPermissionError(f"This hand-over is for {_name(handover.incoming)}; only they can accept it.")
        if handover.accepted_at is not None:
            raise AlertActionError(
                f"This hand-over was already accepted at {timezone.localtime(handover.accepted_at):%H:%M}."
            )
        alerts = (
            Alert.objects.select_for_update(of=("self",))
            .select_related("patient")
            .filter(assigned_to=handover.outgoing, state__in=LIVE)
        )
        if handover.ward_id is not None:
            alerts = alerts.filter(patient__ward_id=handover.ward_id)
        moved = []
        for alert in alerts:
            if not can_view_patient(user, alert.patient_id):
                continue  # stays with its owner: the incoming person cannot see this patient
            alert.assigned_to, alert.updated_at = user, now
            alert.save(update_fields=["assigned_to", "updated_at"])
            data = {
                "assignee": _name(user),
                "assignee_id": user.pk,
                "previous_assignee_id": handover.outgoing_id,
                "handover_id": handover.pk,
            }
            record_event(
                alert,
                AlertEvent.Action.ASSIGNED,
                at=now,
                actor=user,
                note=f"Shift hand-over from {_name(handover.outgoing)}.",
                data=data,
            )
            audit_record(actor=user, action="alert.handed_over", patient=alert.patient, obj=alert, detail=data)
            publish(
                "alert.updated", ward_id=alert.patient.ward_id, patient_id=alert.patient_id, data=alert_to_dict(alert)
            )
            moved.append(alert.pk)
        handover.accepted_at, handover.moved_alert_ids = now, moved
        handover.save(update_fields=["accepted_at", "moved_alert_ids"])
    return handover


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()
