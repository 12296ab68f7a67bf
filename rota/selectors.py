"""Who is on duty: reads of the rota, for the ladder, the Escalate menu and the rota page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from rota.models import DutyRole, Notification, Shift


@dataclass(frozen=True)
class OnDuty:
    person: Any
    role: str
    ward_id: int | None

    @property
    def label(self) -> str:
        name = self.person.get_full_name() or self.person.get_username()
        return f"{name} ({DutyRole(self.role).label.lower()})"


def shifts_at(at: datetime) -> QuerySet[Shift]:
    return Shift.objects.filter(starts_at__lte=at, ends_at__gt=at).select_related("person", "ward")


def on_duty(*, ward_id: int, at: datetime | None = None, role: str | None = None) -> list[OnDuty]:
    """Everyone on duty for this ward now (a shift with no ward covers every ward), by role."""
    shifts = shifts_at(at or timezone.now()).filter(Q(ward_id=ward_id) | Q(ward__isnull=True))
    if role is not None:
        shifts = shifts.filter(role=role)
    seen: set[tuple[int, str]] = set()
    people = []
    for shift in shifts.order_by("role", "starts_at", "pk"):
        if (shift.person_id, shift.role) not in seen and shift.person.is_active:
            seen.add((shift.person_id, shift.role))
            people.append(OnDuty(person=shift.person, role=shift.role, ward_id=shift.ward_id))
    return people


def rota_between(*, since: datetime, until: datetime, ward_ids: list[int] | None = None) -> QuerySet[Shift]:
    shifts = Shift.objects.filter(starts_at__lt=until, ends_at__gt=since).select_related("person", "ward")
    if ward_ids is not None:
        shifts = shifts.filter(Q(ward_id__in=ward_ids) | Q(ward__isnull=True))
    return shifts.order_by("starts_at", "role", "pk")


def default_rota_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    now = now or timezone.now()
    return now - timedelta(hours=12), now + timedelta(hours=36)


def notifications_sent(
    *, limit: int = 200, alert_ids: list[int] | None = None, incident_ids: list[int] | None = None
) -> QuerySet[Notification]:
    """Messages about these alerts (and these connectivity incidents), newest first; None: all."""
    notes = Notification.objects.select_related("recipient", "alert__patient__ward", "incident")
    if alert_ids is not None:
        notes = notes.filter(Q(alert_id__in=alert_ids) | Q(incident_id__in=incident_ids or []))
    return notes.order_by("-created_at", "-id")[:limit]
