"""Reviews of clinical alerts, and the floor under HIGH: the sweep behind both promises.

1. A clinical alert closed (or, at HIGH, kept) while the patient was still in its band carries
   a review-by time. When it passes, the patient still in band brings the alert back, open and
   unacknowledged, to its owner; a patient out of band closes the review, recorded either way.
2. A patient whose current score is HIGH always has a live NEWS2 alert: any without one (an
   alert closed before these rules, a score stored with no alert) gets one raised here.

Run by Celery beat every minute (``alerts.tasks.sweep_clinical_reviews``). Each due alert is
claimed under a row lock and re-checked, so two sweeps never reopen one alert twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from alerts import present
from alerts.models import Alert, AlertEvent, AlertKind, AlertState
from alerts.selectors import alert_to_dict
from alerts.services.clinical import risk_news
from alerts.services.core import LIVE_STATES, live_alert, raise_or_escalate, record_event, start_ladder
from frontend.events import publish
from patients.models import Patient

SWEEP_LIMIT = 500


def sweep_clinical_reviews(*, now: datetime | None = None) -> dict[str, int]:
    """Bring back alerts whose review found the patient still in band; raise for HIGH patients."""
    now = now or timezone.now()
    counts: Counter[str] = Counter()
    due = Alert.objects.filter(review_by__lte=now).order_by("review_by").values_list("pk", flat=True)
    for alert_id in list(due[:SWEEP_LIMIT]):
        counts[_review(alert_id, now)] += 1
    counts["raised_for_high"] = _raise_for_high_patients(now)
    return dict(counts)


def _review(alert_id: int, now: datetime) -> str:
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update(of=("self",))
            .select_related("patient__current_score")
            .filter(pk=alert_id, review_by__lte=now)
            .first()
        )
        if alert is None:
            return "taken"  # another sweep got there first
        score = alert.patient.current_score
        figure = _figure(score)
        due_at = alert.review_by
        alert.review_by = None
        alert.updated_at = now
        data = {"review_by": due_at.isoformat(), "total": score.total if score else None, "risk": _risk(score)}
        if alert.patient.discharged_at is not None or not present.still_in_band(alert, score):
            alert.save(update_fields=["review_by", "updated_at"])
            note = f"Review due: {figure}, out of the alert's band."
            _record(alert, AlertEvent.Action.REVIEW_CLOSED, now, note, data)
            return "closed"
        if alert.state == AlertState.RESOLVED and _another_live(alert) is not None:
            alert.save(update_fields=["review_by", "updated_at"])
            note = f"Review due: still {figure}; alert {_another_live(alert).pk} is open for it."
            _record(alert, AlertEvent.Action.REVIEW_CLOSED, now, note, data)
            return "superseded"
        return _reopen(alert, now, f"Review due: still {figure}. The alert is back.", data)


def _reopen(alert: Alert, now: datetime, note: str, data: dict[str, Any]) -> str:
    alert.state = AlertState.OPEN
    alert.reopened_at = now
    alert.acknowledged_at = alert.acknowledged_by = None
    alert.resolved_at = alert.resolved_by = None
    alert.outcome = ""
    try:
        with transaction.atomic():
            alert.save()
    except IntegrityError:
        return "superseded"  # a new alert of this kind was raised meanwhile; it stands for both
    # Raised again, as far as every screen is concerned: it reminds until someone acknowledges.
    _record(alert, AlertEvent.Action.REOPENED, now, note, data, event="alert.raised")
    start_ladder(alert.pk)  # back and unacknowledged: it climbs the ladder again
    return "reopened"


def _another_live(alert: Alert) -> Alert | None:
    return live_alert(kind=alert.kind, patient_id=alert.patient_id, device_id=alert.device_id)


def _record(alert: Alert, action: str, now: datetime, note: str, data: dict, event: str = "alert.updated") -> None:
    record_event(alert, action, at=now, note=note, data=data)
    publish(event, ward_id=alert.patient.ward_id, patient_id=alert.patient_id, data=alert_to_dict(alert))


def _figure(score: Any) -> str:
    if score is None:
        return "no score (a missing score is never taken as recovery)"
    return f"NEWS2 {score.total}, {present.BAND_LABEL.get(score.risk, score.risk).lower()} risk"


def _risk(score: Any) -> str | None:
    return score.risk if score is not None else None


def _raise_for_high_patients(now: datetime) -> int:
    live = Alert.objects.filter(patient=OuterRef("pk"), kind=AlertKind.NEWS2_RISK, state__in=LIVE_STATES)
    patients = (
        Patient.objects.filter(discharged_at__isnull=True, current_score__risk="high")
        .annotate(has_alert=Exists(live))
        .filter(has_alert=False)
        .values_list("pk", flat=True)
    )
    raised = 0
    for patient_id in list(patients[:SWEEP_LIMIT]):
        with transaction.atomic():
            patient = (
                Patient.objects.select_for_update(no_key=True, of=("self",))
                .select_related("current_score")
                .get(pk=patient_id)
            )
            if patient.current_score is None or patient.current_score.risk != "high":
                continue
            news = risk_news(patient.current_score)
            news.detail = f"Still at high risk with no open alert. {news.detail}"
            _, what = raise_or_escalate(patient=patient, news=news, now=now)
            raised += what == "raised"
    return raised
