"""A missed daily check-in raises a technical "check-in overdue" alert: "not heard from".

A patient is expected to check in each day while they have a live link (issued before the
day's due time, not revoked, not expired) and are on the ward. By VW_CHECKIN_DUE_HOUR (local
time, 12:00 by default) without a finished check-in that day, the sweep (Celery beat, every five
minutes) raises one alert per patient; it stays until a check-in is finished (checkins.services
resolves it) or the patient is no longer expected to check in. Like observations overdue it is
technical: the patient has not told us anything, which is not the same as telling us they are
worse.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.models import Alert, AlertKind, Severity
from alerts.services.core import LIVE_STATES, AlertNews, auto_resolve, raise_or_escalate
from checkins.models import Checkin, CheckinLink
from patients.models import Patient


def due_at(now: dt.datetime) -> dt.datetime:
    """Today's due time (local), as an aware datetime."""
    local = timezone.localtime(now)
    return local.replace(hour=settings.VW_CHECKIN_DUE_HOUR, minute=0, second=0, microsecond=0)


def expected_patient_ids(now: dt.datetime) -> set[int]:
    links = CheckinLink.objects.filter(
        revoked_at__isnull=True, expires_at__gt=now, issued_at__lte=due_at(now), patient__discharged_at__isnull=True
    )
    return set(links.values_list("patient_id", flat=True))


def sweep_overdue_checkins(*, now: dt.datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    due = due_at(now)
    expected = expected_patient_ids(now)
    live = set(
        Alert.objects.filter(kind=AlertKind.CHECKIN_OVERDUE, state__in=LIVE_STATES).values_list("patient_id", flat=True)
    )
    counts = {"raised": 0, "resolved": 0}
    if now >= due:  # before the due time only stopped links are settled: nobody is late yet
        answered = set(
            Checkin.objects.filter(for_date=due.date(), completed_at__isnull=False).values_list("patient_id", flat=True)
        )
        for patient_id in sorted(expected - answered - live):
            with transaction.atomic():
                patient = Patient.objects.select_for_update(no_key=True).get(pk=patient_id)
                raise_or_escalate(patient=patient, news=_overdue_news(due, now), now=now)
            counts["raised"] += 1
    for patient_id in sorted(live - expected):
        with transaction.atomic():
            resolved = auto_resolve(
                kind=AlertKind.CHECKIN_OVERDUE, patient_id=patient_id, now=now,
                note="The patient is no longer expected to check in (link stopped or expired, or discharged).",
            )  # fmt: skip
        counts["resolved"] += resolved is not None
    return counts


def _overdue_news(due: dt.datetime, now: dt.datetime) -> AlertNews:
    return AlertNews(
        kind=AlertKind.CHECKIN_OVERDUE,
        severity=Severity.LOW_MEDIUM,
        title=f"Check-in overdue: none today by {due:%H:%M}",
        detail="The patient (or carer) has not answered today's check-in. Call them, and record their answers "
        "from the patient's page if they give them by phone.",
        data={"due_at": due.isoformat(), "for_date": due.date().isoformat()},
    )
