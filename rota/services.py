"""Writes for escalation to people: climbing the ladder, escalating to someone on duty, recording
what became of each message, and keeping the rota."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import can_triage, sees_all_wards
from alerts.models import CLINICAL_KINDS, Alert, AlertEvent, AlertKind, AlertState, Severity
from alerts.services import AlertActionError, AlertPermissionError, alert_escalate
from alerts.services.core import AlertNews, raise_or_escalate, record_event
from rota.ladder import ALL, Rung, ladder_for, track_of
from rota.models import DutyRole, LadderRung, Notification, Shift, Track
from rota.notify import notify
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
    """Beat: advance the ladder of every unacknowledged alert."""
    now = now or timezone.now()
    ids = Alert.objects.filter(state=AlertState.OPEN).order_by("opened_at").values_list("pk", flat=True)
    return sum(ladder_advance(alert_id=alert_id, now=now) for alert_id in list(ids[:SWEEP_LIMIT]))


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
    "ladder_advance",
    "notification_failed",
    "notification_retrying",
    "notification_sent",
    "shift_create",
    "sweep_ladders",
]
