"""Agreed parameters past their review date raise a task in the triage queue, once.

The limits stay in force until a clinician acts: dropping them overnight would turn a known
baseline (a pulse of 120 in atrial fibrillation) into a stream of alerts nobody can act on. The
task is a technical alert (alerts.AlertKind.AGREED_REVIEW_DUE, reason ``care_plan_review``):
it waits in the same queue, climbs nobody's clinical ladder, and resolves itself once every
live limit of the patient is back in date (reviewed, replaced or ended). Beat runs
:func:`sweep_agreed_reviews` hourly (CELERY_BEAT_SCHEDULE["agreed-reviews-sweep"]).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from alerts.models import Alert, AlertKind, Severity
from alerts.services.core import LIVE_STATES, AlertNews, auto_resolve, raise_or_escalate
from careplan.models import AgreedLimit
from careplan.rules import LABELS
from patients.models import Patient


def overdue_limits(*, today: dt.date) -> list[AgreedLimit]:
    return list(
        AgreedLimit.objects.filter(
            ended_at__isnull=True, review_by__lt=today, patient__discharged_at__isnull=True
        ).order_by("patient_id", "parameter")
    )


def sweep_agreed_reviews(*, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    today = timezone.localdate(now)
    by_patient: dict[int, list[AgreedLimit]] = {}
    for limit in overdue_limits(today=today):
        by_patient.setdefault(limit.patient_id, []).append(limit)
    live = set(
        Alert.objects.filter(kind=AlertKind.AGREED_REVIEW_DUE, state__in=LIVE_STATES).values_list(
            "patient_id", flat=True
        )
    )
    counts = {"raised": 0, "resolved": 0}
    for patient_id, limits in by_patient.items():
        if patient_id in live:
            continue
        with transaction.atomic():
            patient = Patient.objects.select_for_update(no_key=True).get(pk=patient_id)
            raise_or_escalate(patient=patient, news=_review_news(limits, today), now=now)
        counts["raised"] += 1
    for patient_id in live - set(by_patient):
        with transaction.atomic():
            counts["resolved"] += settle_review_alert(patient_id=patient_id, now=now)
    return counts


def settle_review_alert(*, patient_id: int, now: dt.datetime) -> int:
    """Resolve the patient's review task if nothing of theirs is past its review date; 1 if resolved."""
    today = timezone.localdate(now)
    if AgreedLimit.objects.filter(patient_id=patient_id, ended_at__isnull=True, review_by__lt=today).exists():
        return 0
    resolved = auto_resolve(
        kind=AlertKind.AGREED_REVIEW_DUE, patient_id=patient_id, now=now,
        note="Every agreed parameter is within its review date again.",
    )  # fmt: skip
    return int(resolved is not None)


def _review_news(limits: list[AgreedLimit], today: dt.date) -> AlertNews:
    oldest = min(limit.review_by for limit in limits)
    names = ", ".join(LABELS.get(limit.parameter, limit.parameter) for limit in limits)
    return AlertNews(
        kind=AlertKind.AGREED_REVIEW_DUE,
        severity=Severity.LOW,
        title=f"Agreed parameters review overdue: {names}",
        detail=(
            f"Review was due by {oldest:%d %b %Y} ({(today - oldest).days} days ago). The limits stay in force "
            "until a clinician reviews, replaces or ends them on the patient's page."
        ),
        data={"limit_ids": [limit.pk for limit in limits], "review_by": oldest.isoformat()},
    )
