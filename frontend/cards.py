"""What an alert card shows: what it was raised for beside the patient now, and its record.

Built from alerts already loaded with their patient's current score (select_related) and their
events (prefetch), so a queue of fifty costs the same queries as a queue of five. The words
come from ``alerts.present`` and ``alerts.timeline``, shared with the API.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from alerts import present
from alerts.models import CLINICAL_KINDS, Alert
from alerts.timeline import timeline
from scoring.news2 import bands

# "Look the score up on the alert's patient" (a queue), as opposed to "the patient has none".
FROM_PATIENT = object()


def alert_card(alert: Alert, *, now: datetime, score: Any = FROM_PATIENT, with_timeline: bool = True) -> dict[str, Any]:
    """One alert as a card: the alert itself plus every figure computed for now."""
    if score is FROM_PATIENT:
        score = _current_score(alert)
    clinical = alert.kind in CLINICAL_KINDS
    return {
        "alert": alert,
        "clinical": clinical,
        "category_word": "Clinical" if clinical else "Technical",
        "headline": present.headline(alert, score),
        "raised_for": present.raised_for(alert),
        "now": present.patient_now(alert, score) if clinical else None,
        "waiting_s": present.waiting_seconds(alert, now),
        "owner": present.owner(alert),
        "snoozed": alert.snoozed_until is not None and alert.snoozed_until > now,
        "timeline": timeline(alert) if with_timeline else [],
    }


def alert_cards(alerts: list[Alert], *, now: datetime | None = None, score: Any = FROM_PATIENT) -> list[dict[str, Any]]:
    now = now or timezone.now()
    return [alert_card(alert, now=now, score=score) for alert in alerts]


def rcp_key() -> list[dict[str, str]]:
    """The RCP response for each band, shown once on the triage page rather than on every card."""
    return [
        {
            "risk": band.risk.value,
            "name": band.name,
            "response": band.clinical_response,
            "monitoring": band.monitoring_frequency,
        }
        for band in bands()
        if band.name != "zero"
    ]


def _current_score(alert: Alert) -> Any:
    from alerts.selectors import current_score_if_loaded

    return current_score_if_loaded(alert.patient)
