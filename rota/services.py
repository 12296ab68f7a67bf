"""Writes for escalation to people: climbing the ladder, escalating to someone on duty, recording
what became of each message, and keeping the rota."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import can_triage, sees_all_wards
from accounts.audit import audit_record
from alerts.incident_models import ConnectivityIncident, IncidentMember, IncidentState
from alerts.incident_selectors import folded_alert_ids
from alerts.models import CLINICAL_KINDS, Alert, AlertEvent, AlertKind, AlertState, Severity
from alerts.services import AlertActionError, AlertPermissionError, alert_escalate
from alerts.services.core import AlertNews, raise_or_escalate, record_event
from alerts.services.incident_actions import incident_wards
from rota.ladder import ALL, Rung, ladder_for, track_of
from rota.models import DutyRole, LadderRung, Notification, Shift, Track
from rota.notify import notify, notify_incident
from rota.selectors import on_duty

SWEEP_LIMIT = 500


def ladder_advance(*, alert_id: int, now: datetime | None = None) -> int:
    """Fire every rung now due for this alert, each exactly once; returns how many fired.

    Only an unacknowledged (open) alert climbs: acknowledging stops the ladder. The alert is
    locked, so an acknowledgement racing a rung is either before it (nothing fires) or after.
    """
    now = now or timezone.now()
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update(of=("self",))
            .select_related("patient__ward", "patient__current_score")
            .filter(pk=alert_id, state=AlertState.OPEN)
            .first()
        )
        track = track_of(alert) if alert is not None else None
        if alert is None or track is None:
            return 0
        if track == Track.MEDIUM and _covered_by_high(alert):
            return 0
        if alert.snoozed_until is not None and alert.snoozed_until > now:
            return 0  # a snoozed technical alert calls nobody until its snooze ends
        if folded_alert_ids().filter(alert_id=alert.pk).exists():
            return 0  # folded under an open incident: the incident's ladder calls for it
        epoch = alert.reopened_at or alert.opened_at
        fired = 0
        for rung in ladder_for(ward_id=alert.patient.ward_id, track=track):
            if now >= epoch + timedelta(seconds=rung.after_seconds) and _claim(alert, epoch, track, rung, now):
                _fire(alert, rung, now)
                fired += 1
        return fired


def _covered_by_high(alert: Alert) -> bool:
    """A lesser clinical alert for a patient whose HIGH alert is live adds no one to call: the
    HIGH alert's ladder already reaches everyone this one would (one message per patient)."""
    return (
        Alert.objects.filter(patient_id=alert.patient_id, state__in=(AlertState.OPEN, AlertState.ACKNOWLEDGED))
        .filter(kind__in=CLINICAL_KINDS, severity__gte=Severity.HIGH)
        .exclude(pk=alert.pk)
        .exists()
    )


def sweep_ladders(*, now: datetime | None = None) -> int:
    """Beat: advance the ladder of every unacknowledged alert and connectivity incident.

    Alerts folded under an open incident are left out (their incident climbs for them), so a
    mass dropout's thousands of folded alerts never crowd the others out of a sweep's batch.
    """
    now = now or timezone.now()
    ids = (
        Alert.objects.filter(state=AlertState.OPEN)
        .exclude(pk__in=folded_alert_ids())
        .order_by("opened_at")
        .values_list("pk", flat=True)
    )
    fired = sum(ladder_advance(alert_id=alert_id, now=now) for alert_id in list(ids[:SWEEP_LIMIT]))
    incidents = ConnectivityIncident.objects.filter(state=IncidentState.OPEN, acknowledged_at__isnull=True)
    return fired + sum(
        incident_ladder_advance(incident_id=pk, now=now) for pk in incidents.values_list("pk", flat=True)
    )


def incident_ladder_advance(*, incident_id: int, now: datetime | None = None) -> int:
    """Fire every rung now due on a connectivity incident's technical ladder, each once.

    The rungs are those of every ward the incident touches (each ward's own technical steps,
    else the defaults); at each, the people on duty in that role for any of those wards are
    told once. Only an open, unacknowledged incident climbs: acknowledging stops it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        incident = (
            ConnectivityIncident.objects.select_for_update()
            .filter(pk=incident_id, state=IncidentState.OPEN, acknowledged_at__isnull=True)
            .first()
        )
        if incident is None:
            return 0
        wards = sorted(incident_wards(incident))
        rungs: dict[tuple[int, str], set[str]] = {}
        for ward_id in wards:
            for rung in ladder_for(ward_id=ward_id, track=Track.TECHNICAL):
                rungs.setdefault((rung.after_seconds, rung.role), set()).update(rung.channels)
        fired = 0
        for (after, role), channels in sorted(rungs.items()):
            if now >= incident.opened_at + timedelta(seconds=after) and _claim_incident(incident, after, role, now):
                _fire_incident(incident, wards, after, role, sorted(channels), now)
                fired += 1
        return fired


def _claim_incident(incident: Any, after: int, role: str, now: datetime) -> bool:
    try:
        with transaction.atomic():
            LadderRung.objects.create(
                incident=incident, epoch=incident.opened_at, track=Track.TECHNICAL, after_seconds=after, role=role,
                fired_at=now,
            )  # fmt: skip
    except IntegrityError:
        return False
    return True


def _fire_incident(incident: Any, wards: list[int], after: int, role: str, channels: list[str], now: datetime) -> None:
    label = DutyRole(role).label.lower()
    when = "at once" if after == 0 else f"unacknowledged after {_span(after)}"
    people: dict[int, Any] = {}
    for ward_id in wards:
        for duty in on_duty(ward_id=ward_id, at=now, role=role):
            people.setdefault(duty.person.pk, duty.person)
    members = IncidentMember.objects.filter(incident=incident, returned_at__isnull=True, released_at__isnull=True)
    silent = members.count()
    at_risk = members.filter(risk__in=("medium", "high")).values("patient_id").distinct().count()
    audit_record(
        actor=None, action="incident.escalated", obj=incident,
        detail={"ladder": True, "after_seconds": after, "role": role, "recipients": sorted(people)},
    )  # fmt: skip
    notify_incident(
        incident=incident,
        people=[(person, f"on duty as {label}, {when}") for person in people.values()],
        channels=channels,
        silent=silent,
        at_risk=at_risk,
        now=now,
    )


def _claim(alert: Alert, epoch: datetime, track: str, rung: Rung, now: datetime) -> bool:
    try:
        with transaction.atomic():
            LadderRung.objects.create(
                alert=alert, epoch=epoch, track=track, after_seconds=rung.after_seconds, role=rung.role, fired_at=now
            )
    except IntegrityError:
        return False  # another worker fired this rung
    return True


def _fire(alert: Alert, rung: Rung, now: datetime) -> None:
    role = DutyRole(rung.role).label.lower()
    when = "at once" if rung.after_seconds == 0 else f"unacknowledged after {_span(rung.after_seconds)}"
    people = on_duty(ward_id=alert.patient.ward_id, at=now, role=rung.role)
    data = {"ladder": True, "after_seconds": rung.after_seconds, "role": rung.role}
    if not people:
        note = f"Nobody is on duty as {role} for {alert.patient.ward.name}: nobody was notified at this step."
        record_event(
            alert, AlertEvent.Action.ESCALATED, at=now, note=note, data={**data, "recipient": f"nobody ({role})"}
        )
        return
    labels = ", ".join(duty.label for duty in people)
    record_event(
        alert,
        AlertEvent.Action.ESCALATED,
        at=now,
        note=f"Escalation ladder, {when}.",
        data={**data, "recipient": labels},
    )
    notify(
        alert=alert,
        people=[(duty.person, f"on duty as {role}, {when}") for duty in people],
        channels=rung.channels,
        now=now,
    )


def owner_told_worse(*, alert_id: int, now: datetime | None = None) -> int:
    """Tell the owner of an acknowledged alert that it got worse; returns messages queued."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = (
            Alert.objects.select_related("patient__ward", "patient__current_score", "assigned_to")
            .filter(pk=alert_id, state=AlertState.ACKNOWLEDGED, assigned_to__isnull=False)
            .first()
        )
        if alert is None:
            return 0
        why = f"the alert you own got worse ({alert.get_severity_display().lower()})"
        return len(notify(alert=alert, people=[(alert.assigned_to, why)], channels=ALL, now=now))


def alert_escalate_to(*, alert: Alert, user: Any, to: str, note: str = "") -> Alert:
    """Escalate to a named person on duty ("person:<id>") or to a role ("role:<role>"), and tell them.

    The recipient becomes the alert's owner and is notified on every channel. Someone not on
    duty for the patient's ward, or a role nobody holds now, is refused with the reason.
    """
    now = timezone.now()
    duty = on_duty(ward_id=alert.patient.ward_id, at=now)
    kind, _, value = to.partition(":")
    if kind == "person":
        chosen = next((d for d in duty if str(d.person.pk) == value), None)
        if chosen is None:
            raise AlertActionError("That person is not on duty for this ward now; choose someone on the rota.")
    elif kind == "role" and value in DutyRole.values:
        chosen = next((d for d in duty if d.role == value), None)
        if chosen is None:
            raise AlertActionError(f"Nobody is on duty as {DutyRole(value).label.lower()} for this ward now.")
    else:
        raise AlertActionError("Choose who to escalate to: a person or a role on duty.")
    who = _name(user)
    with transaction.atomic():
        alert = alert_escalate(alert=alert, user=user, note=note, recipient=chosen.person, recipient_label=chosen.label)
        # Stamped with the escalation's own time, so the record reads escalate, then notify.
        sent_at = alert.escalated_at or now
        notify(alert=alert, people=[(chosen.person, f"escalated to you by {who}")], channels=ALL, now=sent_at)
    return alert


def notification_sent(*, notification_id: int, reference: str, attempts: int) -> None:
    Notification.objects.filter(pk=notification_id).update(
        state=Notification.State.SENT, provider_ref=reference[:200], attempts=attempts, sent_at=timezone.now(), error=""
    )


def notification_retrying(*, notification_id: int, error: str, attempts: int) -> None:
    Notification.objects.filter(pk=notification_id).update(error=error[:2000], attempts=attempts)


def notification_failed(*, notification_id: int, error: str, attempts: int) -> None:
    """Delivery gave up: record it, and raise a technical alert so a person reaches them another way."""
    now = timezone.now()
    with transaction.atomic():
        notification = Notification.objects.select_related("alert__patient", "recipient").get(pk=notification_id)
        notification.state, notification.error = Notification.State.FAILED, error[:2000]
        notification.attempts, notification.failed_at = attempts, now
        notification.save(update_fields=["state", "error", "attempts", "failed_at"])
        source = notification.alert
        if source is None:
            # About an incident: no patient to raise an alert on. The failure is shown on the
            # incident's card and the notifications page, and its ladder's next rung still fires.
            return
        if source.kind == AlertKind.NOTIFICATION_FAILED:
            return  # a failure to report a failure is recorded, not raised again
        news = AlertNews(
            kind=AlertKind.NOTIFICATION_FAILED,
            severity=Severity.HIGH if source.severity >= Severity.HIGH else Severity.MEDIUM,
            title=f"{notification.get_channel_display()} to {_name(notification.recipient)} not delivered",
            detail=f"About alert {source.pk} ({source.get_kind_display()}): {error[:300]}. Reach them another way.",
            data={"notification_id": notification.pk, "source_alert_id": source.pk},
            always_escalate=True,
        )
        raise_or_escalate(patient=source.patient, news=news, now=now)


def shift_create(*, user: Any, person: Any, role: str, ward: Any, starts_at: datetime, ends_at: datetime) -> Shift:
    """Put someone on the rota. Operators and administrators keep it; clinicians read it."""
    if not can_triage(user) or not sees_all_wards(user):
        raise AlertPermissionError("Only the command centre can change the rota.")
    for name, moment in (("starts_at", starts_at), ("ends_at", ends_at)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise AlertActionError(f"{name} needs a UTC offset or Z, e.g. 2026-11-23T08:00:00Z.")
    if ends_at <= starts_at:
        raise AlertActionError("A shift must end after it starts.")
    if ends_at - starts_at > timedelta(hours=24):
        raise AlertActionError("A shift can be at most 24 hours long.")
    if role not in DutyRole.values:
        raise AlertActionError(f"Unknown role {role!r}; choose one of {', '.join(DutyRole.values)}.")
    if role == DutyRole.WARD_CLINICIAN and ward is None:
        raise AlertActionError("A ward clinician's shift is for one ward: choose the ward.")
    if ward is not None and not sees_all_wards(person) and not person.wards.filter(pk=ward.pk).exists():
        raise AlertActionError(f"{_name(person)} does not work on {ward.name}.")
    return Shift.objects.create(
        person=person, role=role, ward=ward, starts_at=starts_at, ends_at=ends_at, created_by=user
    )


def _span(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _name(user: Any) -> str:
    return user.get_full_name() or user.get_username()


__all__ = [
    "alert_escalate_to",
    "incident_ladder_advance",
    "ladder_advance",
    "notification_failed",
    "notification_retrying",
    "notification_sent",
    "shift_create",
    "sweep_ladders",
]
