"""The alert lifecycle primitives the system uses: raise or escalate in place, resolve itself.

One live alert per patient and kind (per device and kind for device alerts) is enforced by the
partial unique constraints on Alert; these functions lean on them, so two workers racing to
raise the same alert end with one alert, the loser escalating the winner's instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction

from alerts.models import CLINICAL_KINDS, Alert, AlertEvent, AlertKind, AlertState, Category, Outcome
from alerts.selectors import alert_to_dict
from frontend.events import publish

LIVE_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED)


@dataclass
class AlertNews:
    """What the system wants to say about a patient (or one of their devices)."""

    kind: str
    severity: int
    title: str
    detail: str = ""
    device_id: int | None = None
    score_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    # Worse news that does not raise the severity (another fall, a second parameter at 3).
    always_escalate: bool = False


def category_of(kind: str) -> str:
    return Category.CLINICAL if kind in CLINICAL_KINDS else Category.TECHNICAL


def live_alert(*, kind: str, patient_id: int, device_id: int | None = None, lock: bool = False) -> Alert | None:
    alerts = Alert.objects.select_related("patient").filter(kind=kind, state__in=LIVE_STATES)
    alerts = (
        alerts.filter(device_id=device_id)
        if device_id is not None
        else alerts.filter(patient_id=patient_id, device__isnull=True)
    )
    if lock:
        alerts = alerts.select_for_update(of=("self",))
    return alerts.first()


def live_patient_alerts(patient_ids: Iterable[int], kinds: Iterable[str]) -> dict[int, dict[str, Alert]]:
    """Each patient's live alerts of these kinds (not device alerts), by kind, locked; one query.

    For a caller about to raise or resolve several kinds for several patients (scoring a
    chunk of patients): one locking read instead of one per patient and kind.
    """
    alerts = (
        Alert.objects.select_related("patient")
        .select_for_update(of=("self",))
        .filter(patient_id__in=list(patient_ids), kind__in=list(kinds), state__in=LIVE_STATES, device__isnull=True)
        .order_by("pk")
    )
    live: dict[int, dict[str, Alert]] = {}
    for alert in alerts:
        live.setdefault(alert.patient_id, {})[alert.kind] = alert
    return live


def _live(kind: str, patient_id: int, device_id: int | None, live: Mapping[str, Alert] | None) -> Alert | None:
    if live is not None and device_id is None:
        return live.get(kind)
    return live_alert(kind=kind, patient_id=patient_id, device_id=device_id, lock=True)


def raise_or_escalate(
    *, patient: Any, news: AlertNews, now: datetime, live: Mapping[str, Alert] | None = None
) -> tuple[Alert, str]:
    """Open the alert, or escalate the live one in place if the news is worse.

    ``live``: the patient's live alerts, already read under lock (:func:`live_patient_alerts`);
    None reads this kind's here. Returns the alert and what happened: "raised", "escalated" or
    "unchanged".
    """
    existing = _live(news.kind, patient.pk, news.device_id, live)
    if existing is None:
        try:
            with transaction.atomic():
                alert = _create(patient, news, now)
        except IntegrityError:
            # Another worker raised it between our look and our insert: treat theirs as ours.
            existing = live_alert(kind=news.kind, patient_id=patient.pk, device_id=news.device_id, lock=True)
            if existing is None:
                raise
        else:
            record_event(alert, AlertEvent.Action.RAISED, at=now, note=news.detail, data=news.data)
            publish("alert.raised", ward_id=patient.ward_id, patient_id=patient.pk, data=alert_to_dict(alert))
            start_ladder(alert.pk)
            return alert, "raised"
    if news.severity > existing.severity or news.always_escalate:
        _escalate(existing, news, now)
        return existing, "escalated"
    return existing, "unchanged"


def raise_or_escalate_all(
    news_for: Sequence[tuple[Any, AlertNews]], *, now: datetime, live: Mapping[int, Mapping[str, Alert]]
) -> None:
    """:func:`raise_or_escalate` for several patients' news at once (a scoring chunk's).

    ``live``: their live alerts by patient and kind, read under lock (:func:`live_patient_alerts`).
    Every new alert goes in one INSERT and every first event in another: one at a time, each
    cost a savepoint, its release and two INSERTs, four round trips to the database that the
    alert's event, and the nurse, waited for. If another worker raised one of them in the
    meantime, the whole INSERT is undone and each is raised or escalated on its own, as a
    single raise settles that race.
    """
    known = {patient_id: dict(alerts) for patient_id, alerts in live.items()}
    fresh: list[tuple[Any, AlertNews]] = []
    later: list[tuple[Any, AlertNews]] = []
    claimed: set[tuple[int, str]] = set()
    for patient, news in news_for:
        key = (patient.pk, news.kind)
        if news.device_id is None and news.kind not in known.setdefault(patient.pk, {}) and key not in claimed:
            claimed.add(key)
            fresh.append((patient, news))
        else:
            later.append((patient, news))  # worse news for a live alert, or for one raised above
    if fresh:
        try:
            with transaction.atomic():
                alerts = Alert.objects.bulk_create([_new_alert(patient, news, now) for patient, news in fresh])
        except IntegrityError:
            later = fresh + later
        else:
            AlertEvent.objects.bulk_create(
                AlertEvent(alert=alert, action=AlertEvent.Action.RAISED, at=now, note=news.detail, data=news.data)
                for alert, (_, news) in zip(alerts, fresh, strict=True)
            )
            for alert, (patient, news) in zip(alerts, fresh, strict=True):
                known[patient.pk][news.kind] = alert
                publish("alert.raised", ward_id=patient.ward_id, patient_id=patient.pk, data=alert_to_dict(alert))
                start_ladder(alert.pk)
    for patient, news in later:
        alert, _ = raise_or_escalate(patient=patient, news=news, now=now, live=known.setdefault(patient.pk, {}))
        known[patient.pk][news.kind] = alert


def _create(patient: Any, news: AlertNews, now: datetime) -> Alert:
    alert = _new_alert(patient, news, now)
    alert.save(force_insert=True)
    return alert


def _new_alert(patient: Any, news: AlertNews, now: datetime) -> Alert:
    return Alert(
        kind=news.kind,
        category=category_of(news.kind),
        severity=news.severity,
        patient=patient,
        device_id=news.device_id,
        score_id=news.score_id,
        title=news.title[:200],
        detail=news.detail,
        opened_at=now,
        updated_at=now,
        raised_total=news.data.get("total"),
        raised_risk=news.data.get("risk", ""),
        agreed=news.data.get("agreed") or {},
    )


def _escalate(alert: Alert, news: AlertNews, now: datetime) -> None:
    before = alert.severity
    alert.severity = max(alert.severity, news.severity)
    alert.title = news.title[:200]
    alert.detail = news.detail
    alert.score_id = news.score_id or alert.score_id
    alert.escalated_at = now
    alert.updated_at = now
    fields = ["severity", "title", "detail", "score", "escalated_at", "updated_at"]
    if news.data.get("total") is not None:
        # The figure the alert now stands for: its band was reached at this total.
        alert.raised_total, alert.raised_risk = news.data["total"], news.data.get("risk", "")
        alert.agreed = news.data.get("agreed") or {}
        fields += ["raised_total", "raised_risk", "agreed"]
    alert.save(update_fields=fields)
    data = {**news.data, "severity_before": before, "severity": alert.severity}
    record_event(alert, AlertEvent.Action.ESCALATED, at=now, note=news.detail, data=data)
    publish("alert.updated", ward_id=alert.patient.ward_id, patient_id=alert.patient_id, data=alert_to_dict(alert))
    if alert.state == AlertState.OPEN:
        start_ladder(alert.pk)  # worse: a new track's rungs may now be due
    else:
        # Acknowledged alerts call nobody again, unless the patient gets worse: then the owner.
        transaction.on_commit(partial(_tell_owner_worse, alert.pk))


def auto_resolve(
    *,
    kind: str,
    patient_id: int,
    device_id: int | None = None,
    now: datetime,
    note: str,
    data: dict | None = None,
    live: Mapping[str, Alert] | None = None,
) -> Alert | None:
    """Resolve the live technical alert of this kind because its cause cleared; None if none.

    ``live`` as for :func:`raise_or_escalate`.
    """
    if kind in CLINICAL_KINDS:
        # RCP NEWS2 and every virtual-ward pathway: a clinical alert is closed by a person.
        raise ValueError(f"clinical alert kind {kind!r} is never resolved automatically")
    alert = _live(kind, patient_id, device_id, live)
    if alert is None:
        return None
    alert.state = AlertState.RESOLVED
    alert.outcome = Outcome.AUTO_RESOLVED
    alert.resolved_at = now
    alert.updated_at = now
    alert.save(update_fields=["state", "outcome", "resolved_at", "updated_at"])
    record_event(alert, AlertEvent.Action.AUTO_RESOLVED, at=now, note=note, data=data or {})
    publish("alert.updated", ward_id=alert.patient.ward_id, patient_id=alert.patient_id, data=alert_to_dict(alert))
    return alert


def start_ladder(alert_id: int) -> None:
    """After commit, climb the alert's escalation ladder (rota): its first rung is "at once"."""
    transaction.on_commit(partial(_advance_ladder, alert_id))


def _advance_ladder(alert_id: int) -> None:
    from rota.tasks import advance_ladder  # rota builds on alerts, not the other way round

    advance_ladder.delay(alert_id)


def _tell_owner_worse(alert_id: int) -> None:
    from rota.tasks import tell_owner_worse

    tell_owner_worse.delay(alert_id)


def record_event(
    alert: Alert, action: str, *, at: datetime, actor: Any = None, note: str = "", data: dict | None = None
) -> AlertEvent:
    return AlertEvent.objects.create(alert=alert, action=action, actor=actor, at=at, note=note, data=data or {})


__all__ = [
    "LIVE_STATES",
    "AlertKind",
    "AlertNews",
    "auto_resolve",
    "live_alert",
    "live_patient_alerts",
    "raise_or_escalate",
    "raise_or_escalate_all",
    "record_event",
    "start_ladder",
]
