"""Clinical alerts: a higher NEWS2 risk band, a single parameter scoring 3, a fall.

Clinical alerts are raised or escalated in place by the system and only ever closed by a
person (see ``alerts.services.actions.alert_resolve``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.models import AlertEvent, AlertKind, Severity
from alerts.services.core import (
    AlertNews,
    auto_resolve,
    live_alert,
    live_patient_alerts,
    raise_or_escalate,
    raise_or_escalate_all,
)
from patients.models import Patient
from scoring.models import EarlyWarningScore

RISK_RANK = {"low": 0, "low-medium": 1, "medium": 2, "high": 3}
# RCP NEWS2 (2017) chart 4: the response urgency of each band sets the alert's severity.
RISK_SEVERITY = {"low-medium": Severity.LOW_MEDIUM, "medium": Severity.MEDIUM, "high": Severity.HIGH}
RISK_LABEL = {"low": "low", "low-medium": "low–medium", "medium": "medium", "high": "high"}
PARAMETER_LABEL = {
    "respiratory_rate": "Respiration rate",
    "spo2": "SpO2",
    "on_oxygen": "Supplemental oxygen",
    "systolic_bp": "Systolic BP",
    "heart_rate": "Pulse",
    "consciousness": "Consciousness",
    "temperature": "Temperature",
}


# The kinds a new score can raise or resolve.
SCORE_KINDS = (AlertKind.NEWS2_RISK, AlertKind.SINGLE_PARAMETER, AlertKind.OBSERVATIONS_OVERDUE)


def evaluate_score(
    *, patient: Patient, score: EarlyWarningScore, previous: EarlyWarningScore | None, now: datetime
) -> None:
    """Raise or escalate what a newly stored score calls for; call inside the scoring transaction."""
    evaluate_scores([(patient, score, previous)], now=now)


def evaluate_scores(
    scored: Sequence[tuple[Patient, EarlyWarningScore, EarlyWarningScore | None]], *, now: datetime
) -> None:
    """:func:`evaluate_score` for several patients, their live alerts read in one locking query."""
    from alerts.services.persistence import hold_for_persistence

    live = live_patient_alerts([patient.pk for patient, _, _ in scored], SCORE_KINDS)
    holds = hold_for_persistence(scored, now=now)
    raise_or_escalate_all(
        [
            (patient, news)
            for patient, score, previous in scored
            for news in _score_news(score, previous, holds.get(patient.pk))
        ],
        now=now,
        live=live,
    )
    for patient, score, _ in scored:
        if score.complete:
            auto_resolve(
                kind=AlertKind.OBSERVATIONS_OVERDUE,
                patient_id=patient.pk,
                now=now,
                note="A complete set of observations arrived.",
                data={"score_id": score.pk},
                live=live.get(patient.pk, {}),
            )


def _score_news(score: EarlyWarningScore, previous: EarlyWarningScore | None, hold: Any = None) -> list[AlertNews]:
    """What a new score calls for: a higher risk band, and parameters newly scoring 3.

    ``hold``: the persistence rule's decision for this patient (alerts.services.persistence):
    parameters held back from the single-parameter alert, and held ones now due. The risk
    band's alert is never held.
    """
    news = []
    previous_rank = RISK_RANK[previous.risk] if previous is not None else 0
    # The low–medium band is the single-parameter trigger (a lone 3): held with its parameters.
    band_held = hold is not None and score.risk == "low-medium" and _parameters_at_3(score) <= hold.held
    if RISK_RANK[score.risk] > previous_rank and score.risk in RISK_SEVERITY and not band_held:
        news.append(risk_news(score))
    elif hold is not None and hold.confirmed and score.risk in RISK_SEVERITY:
        news.append(risk_news(score))  # a held value persisted: its band's alert, if not raised already
    newly_at_3 = _parameters_at_3(score) - (_parameters_at_3(previous) if previous is not None else set())
    if hold is not None:
        newly_at_3 = (newly_at_3 - hold.held) | hold.confirmed
    if newly_at_3:
        news.append(_single_parameter_news(score, newly_at_3))
    return news


def _parameters_at_3(score: EarlyWarningScore) -> set[str]:
    return {name for name, sub in score.sub_scores.items() if sub.get("score") == 3}


def _incompleteness(score: EarlyWarningScore) -> str:
    if score.complete:
        return ""
    missing = ", ".join(PARAMETER_LABEL.get(name, name) for name in score.missing)
    return f" Incomplete — missing: {missing}; the total and risk are lower bounds."


def risk_news(score: EarlyWarningScore) -> AlertNews:
    label = RISK_LABEL[score.risk]
    return AlertNews(
        kind=AlertKind.NEWS2_RISK,
        severity=RISK_SEVERITY[score.risk],
        # Stamped with the score's time: a title is a record of then, never a figure for now
        # (alerts.present shows the current score beside it).
        title=f"NEWS2 {score.total} at {_clock(score.as_of)}: {label} risk{'' if score.complete else ' (incomplete)'}",
        detail=f"{score.clinical_response}. Monitor: {score.monitoring_frequency}.{_incompleteness(score)}",
        score_id=score.pk,
        data={"score_id": score.pk, "total": score.total, "risk": score.risk},
    )


def _single_parameter_news(score: EarlyWarningScore, newly_at_3: set[str]) -> AlertNews:
    at_3 = sorted(_parameters_at_3(score))
    names = ", ".join(PARAMETER_LABEL.get(name, name) for name in at_3)
    values = "; ".join(f"{PARAMETER_LABEL.get(n, n)} {score.sub_scores[n]['value']}" for n in at_3)
    return AlertNews(
        kind=AlertKind.SINGLE_PARAMETER,
        # Two or more parameters at 3 is worse than one: the alert escalates in place.
        severity=Severity.MEDIUM if len(at_3) > 1 else Severity.LOW_MEDIUM,
        title=f"{names} scored 3",
        detail=f"Red score (RCP NEWS2 chart 2): {values}. Urgent ward-based response.{_incompleteness(score)}",
        score_id=score.pk,
        data={
            "score_id": score.pk,
            "parameters": at_3,
            "new": sorted(newly_at_3),
            "values": {name: score.sub_scores[name]["value"] for name in at_3},
            "total": score.total,
            "risk": score.risk,
        },
        always_escalate=True,
    )


def alert_fall_detected(*, patient_id: int, observation_id: int, measured_at: datetime) -> None:
    """A fall sensor reported a fall: one live HIGH alert per patient, escalated by each new fall."""
    now = timezone.now()
    with transaction.atomic():
        patient = Patient.objects.select_for_update(no_key=True).get(pk=patient_id)
        existing = live_alert(kind=AlertKind.FALL, patient_id=patient.pk)
        if (
            existing is not None
            and AlertEvent.objects.filter(alert=existing, data__observation_id=observation_id).exists()
        ):
            return  # the same fall told twice is one fall
        raise_or_escalate(patient=patient, news=_fall_news(observation_id, measured_at, now), now=now)


def _fall_news(observation_id: int, measured_at: datetime, now: datetime) -> AlertNews:
    when = timezone.localtime(measured_at).strftime("%d %b %H:%M")
    delay = now - measured_at
    # Store-and-forward: a fall reported late still needs a person, but the alert says when
    # it happened rather than presenting it as happening now.
    late = delay > timedelta(seconds=settings.VW_LATE_READING_SECONDS)
    suffix = f" (reported {_duration(delay)} late)" if late else ""
    return AlertNews(
        kind=AlertKind.FALL,
        severity=Severity.HIGH,
        title=f"Fall detected at {when}{suffix}",
        detail="The fall sensor reported a fall. Contact the patient now.",
        data={"observation_id": observation_id, "measured_at": measured_at.isoformat(), "late": late},
        always_escalate=True,
    )


def _clock(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
