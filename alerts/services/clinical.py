"""Clinical alerts: a higher NEWS2 risk band, a single parameter scoring 3, a fall.

Clinical alerts are raised or escalated in place by the system and only ever closed by a
person (see ``alerts.services.actions.alert_resolve``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from careplan.rules import HIGH_TOTAL, Assessment, Limit
from careplan.selectors import assess_score, limits_by_patient
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
    # Agreed parameters only ever lower what the chart calls for, so only patients whose score
    # could alert at all need their limits read (one query, or none at all). Not "whose score
    # the chart alerts on": a limit lowers the previous score too, so a reading that leaves an
    # agreed range can alert where the chart, unchanged since, does not.
    calling = [patient.pk for patient, score, _ in scored if _could_alert(score)]
    limits = limits_by_patient(calling)
    holds = hold_for_persistence(scored, now=now)
    raise_or_escalate_all(
        [
            (patient, news)
            for patient, score, previous in scored
            for news in _score_news(score, previous, limits.get(patient.pk), holds.get(patient.pk))
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


def _could_alert(score: EarlyWarningScore) -> bool:
    """Whether agreed parameters could matter to this score's alerts.

    Not at a HIGH total: the guard rail sets every limit aside there (careplan.rules), and the
    chart alone decides, against the previous score by the chart too.
    """
    if score.total >= HIGH_TOTAL:
        return False
    return score.risk in RISK_SEVERITY or any(sub.get("score") == 3 for sub in score.sub_scores.values())


def _score_news(
    score: EarlyWarningScore,
    previous: EarlyWarningScore | None,
    limits: Mapping[str, Limit] | None = None,
    hold: Any = None,
) -> list[AlertNews]:
    """What a new score calls for: a higher risk band, and parameters newly scoring 3.

    Both judged as the patient's agreed parameters (careplan.rules) have it, the previous
    score under the same limits; with none, exactly as the chart says. ``hold``: the
    persistence rule's decision for this patient (alerts.services.persistence).
    """
    assessed = assess_score(score, limits)
    before = assess_score(previous, limits) if previous is not None else None
    return assessed_news(score, assessed, before, hold)


def assessed_news(
    score: EarlyWarningScore, assessed: Assessment, before: Assessment | None, hold: Any = None
) -> list[AlertNews]:
    """What a score calls for now (``assessed``) that it did not before (``before``; None: nothing).

    ``hold``: parameters the persistence rule holds back from the single-parameter alert, and
    held ones now due (``confirmed``). Only the low–medium band a lone held 3 causes is held with
    them; any other band's alert never is.
    """
    news = []
    previous_rank = RISK_RANK[before.alerting_risk] if before is not None else 0
    risk = assessed.alerting_risk
    threes = set(assessed.threes)
    band_held = hold is not None and risk == "low-medium" and bool(threes) and threes <= hold.held
    if RISK_RANK[risk] > previous_rank and risk in RISK_SEVERITY and not band_held:
        news.append(risk_news(score, assessed))
    elif hold is not None and hold.confirmed & set(assessed.threes) and risk in RISK_SEVERITY:
        news.append(risk_news(score, assessed))  # a held value persisted: its band's alert, if not raised already
    newly_at_3 = set(assessed.threes) - (set(before.threes) if before is not None else set())
    if hold is not None:
        # A held parameter inside its agreed range never alerts, confirmed or not.
        newly_at_3 = (newly_at_3 - hold.held) | (hold.confirmed & set(assessed.threes))
    if newly_at_3:
        news.append(_single_parameter_news(score, set(newly_at_3), assessed))
    return news


def reevaluate_agreed_change(
    *, patient: Patient, before: Mapping[str, Limit], after: Mapping[str, Limit], now: datetime
) -> None:
    """A clinician changed the agreed parameters: raise what the current score now calls for.

    Inside the caller's transaction. A narrower (or ended) limit may put a patient who was within
    agreed parameters over a threshold at once, without waiting for their next reading.
    """
    score = patient.current_score
    if score is None:
        return
    for news in assessed_news(score, assess_score(score, after), assess_score(score, before)):
        raise_or_escalate(patient=patient, news=news, now=now)


def _agreed_data(assessed: Assessment | None) -> dict:
    if assessed is None or not (assessed.within or assessed.set_aside):
        return {}
    return {
        "within": list(assessed.within),
        "alerting_total": assessed.alerting_total,
        "alerting_risk": assessed.alerting_risk,
        "set_aside": assessed.set_aside,
    }


def _within_words(assessed: Assessment | None) -> str:
    if assessed is None or not assessed.within:
        return ""
    names = ", ".join(PARAMETER_LABEL.get(name, name) for name in assessed.within)
    return f" · within agreed parameters ({names})"


def _incompleteness(score: EarlyWarningScore) -> str:
    if score.complete:
        return ""
    missing = ", ".join(PARAMETER_LABEL.get(name, name) for name in score.missing)
    return f" Incomplete — missing: {missing}; the total and risk are lower bounds."


def risk_news(score: EarlyWarningScore, assessed: Assessment | None = None) -> AlertNews:
    # The band alerting stands for: the chart's, unless agreed parameters left points out.
    risk = assessed.alerting_risk if assessed is not None else score.risk
    label = RISK_LABEL[risk]
    within = _within_words(assessed)
    alerting = f"alerting as {assessed.alerting_total}, " if within and assessed is not None else ""
    agreed = _agreed_data(assessed)
    return AlertNews(
        kind=AlertKind.NEWS2_RISK,
        severity=RISK_SEVERITY[risk],
        # Stamped with the score's time: a title is a record of then, never a figure for now
        # (alerts.present shows the current score beside it).
        title=(
            f"NEWS2 {score.total} at {_clock(score.as_of)}{within}: {alerting}{label} risk"
            f"{'' if score.complete else ' (incomplete)'}"
        ),
        detail=f"{score.clinical_response}. Monitor: {score.monitoring_frequency}.{_incompleteness(score)}",
        score_id=score.pk,
        data={"score_id": score.pk, "total": score.total, "risk": risk, **({"agreed": agreed} if agreed else {})},
    )


def _single_parameter_news(score: EarlyWarningScore, newly_at_3: set[str], assessed: Assessment) -> AlertNews:
    # The parameters at 3 that alert: a 3 inside its own agreed range does not (careplan.rules).
    at_3 = sorted(assessed.threes)
    agreed = _agreed_data(assessed)
    names = ", ".join(PARAMETER_LABEL.get(name, name) for name in at_3)
    values = "; ".join(f"{PARAMETER_LABEL.get(n, n)} {score.sub_scores[n]['value']}" for n in at_3)
    return AlertNews(
        kind=AlertKind.SINGLE_PARAMETER,
        # Two or more parameters at 3 is worse than one: the alert escalates in place.
        severity=Severity.MEDIUM if len(at_3) > 1 else Severity.LOW_MEDIUM,
        title=f"{names} scored 3{_within_words(assessed)}",
        detail=f"Red score (RCP NEWS2 chart 2): {values}. Urgent ward-based response.{_incompleteness(score)}",
        score_id=score.pk,
        data={
            "score_id": score.pk,
            "parameters": at_3,
            "new": sorted(newly_at_3),
            "values": {name: score.sub_scores[name]["value"] for name in at_3},
            "total": score.total,
            "risk": score.risk,
            **({"agreed": agreed} if agreed else {}),
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
