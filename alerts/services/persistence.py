"""The persistence rule's reads and writes (the rule itself: alerts.persistence).

Scoring calls :func:`hold_for_persistence` with a chunk's new scores, inside its transaction,
before the alerts are raised: it says, per patient, which parameters newly at 3 wait (held) and
which held ones are now due (confirmed). The beat calls :func:`sweep_persistence_holds` for
held parameters whose time is up with no newer score to carry them. Both lock the open holds
they end, so a hold is ended, and its alert raised, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts.hold_models import PersistenceHold
from alerts.models import AlertKind, Severity
from alerts.persistence import RedReading, may_hold, persisted, refuted
from alerts.services.core import AlertNews, raise_or_escalate
from devices.models import DeviceMode
from patients.models import Observation, Patient

SWEEP_LIMIT = 500
Outcome = PersistenceHold.Outcome


@dataclass
class HoldDecision:
    held: set[str] = field(default_factory=set)  # newly at 3, waiting: leave out of this score's alert
    confirmed: set[str] = field(default_factory=set)  # held before, due now: raise as new


def at_3(score: Any) -> set[str]:
    return {name for name, sub in (score.sub_scores if score is not None else {}).items() if sub.get("score") == 3}


def hold_for_persistence(scored: Sequence[tuple[Patient, Any, Any]], *, now: datetime) -> dict[int, HoldDecision]:
    """Apply the rule to a scoring chunk: (patient, score, previous score) → each patient's decision."""
    persist_s = settings.VW_PERSISTENCE_SECONDS
    if persist_s <= 0:
        return {}  # off: no query at all; a hold left from when it was on is the sweep's
    fresh = {patient.pk: at_3(score) - at_3(previous) for patient, score, previous in scored}
    holds: dict[int, dict[str, PersistenceHold]] = {}
    for hold in PersistenceHold.objects.select_for_update(of=("self",)).filter(
        patient_id__in=list(fresh), ended_at__isnull=True
    ):
        holds.setdefault(hold.patient_id, {})[hold.parameter] = hold
    continuous = _continuous_observations(scored, fresh)
    decisions: dict[int, HoldDecision] = {}
    for patient, score, _ in scored:
        open_holds = holds.setdefault(patient.pk, {})
        decision = _decide(patient, score, fresh[patient.pk], open_holds, continuous, now, persist_s)
        if decision.held or decision.confirmed:
            decisions[patient.pk] = decision
    return decisions


def _decide(
    patient: Patient,
    score: Any,
    fresh: set[str],
    holds: dict[str, PersistenceHold],  # the patient's open holds; those opened here are added
    continuous: set[int],
    now: datetime,
    persist_s: int,
) -> HoldDecision:
    decision = HoldDecision()
    for parameter, hold in holds.items():
        if refuted(score.sub_scores.get(parameter)):
            _end(hold, Outcome.REFUTED, now)
        elif score.risk == "high":
            _end(hold, Outcome.HIGH_TOTAL, now)
            decision.confirmed.add(parameter)
        elif persisted(since=hold.since, now=now, persist_s=persist_s):
            _end(hold, Outcome.RAISED, now)
            decision.confirmed.add(parameter)
        else:
            decision.held.add(parameter)
    for parameter in sorted(fresh - holds.keys()):
        sub = score.sub_scores[parameter]
        measured_at = parse_datetime(sub["measured_at"]) if sub.get("measured_at") else score.as_of
        reading = RedReading(parameter, measured_at, sub.get("observation_id") in continuous)
        if may_hold(reading, risk=score.risk, persist_s=persist_s) and not persisted(
            since=measured_at, now=now, persist_s=persist_s
        ):
            holds[parameter] = PersistenceHold.objects.create(
                patient=patient, parameter=parameter, value=sub.get("value"), observation_id=sub.get("observation_id"),
                since=measured_at, held_at=now,
            )  # fmt: skip
            decision.held.add(parameter)
    if decision.held and (fresh - decision.held or decision.confirmed):
        # Another parameter raises the alert now, and it names every parameter at 3: nothing
        # is left waiting behind it.
        for parameter in decision.held:
            _end(holds[parameter], Outcome.JOINED, now)
        decision.confirmed |= decision.held & fresh
        decision.held = set()
    return decision


def _continuous_observations(scored: Sequence[tuple[Patient, Any, Any]], fresh: dict[int, set[str]]) -> set[int]:
    """Which of the new red readings came from a device in continuous mode (one query, only if any)."""
    ids = {
        score.sub_scores[name].get("observation_id")
        for patient, score, _ in scored
        for name in fresh[patient.pk]
        if name in score.sub_scores
    } - {None}
    if not ids:
        return set()
    return set(Observation.objects.filter(pk__in=ids, device__mode=DeviceMode.CONTINUOUS).values_list("pk", flat=True))


def _end(hold: PersistenceHold, outcome: str, now: datetime, alert: Any = None) -> None:
    hold.ended_at, hold.outcome, hold.alert = now, outcome, alert
    hold.save(update_fields=["ended_at", "outcome", "alert"])


def sweep_persistence_holds(*, now: datetime | None = None) -> int:
    """Raise the single-parameter alert of every hold whose time is up; returns alerts raised or escalated.

    Also runs with the rule switched off, so a hold left open when it was switched off is
    raised rather than forgotten.
    """
    from alerts.services.clinical import RISK_SEVERITY, risk_news

    now = now or timezone.now()
    persist_s = max(0, settings.VW_PERSISTENCE_SECONDS)
    raised = 0
    with transaction.atomic():
        due = list(
            PersistenceHold.objects.select_for_update(of=("self",), skip_locked=True)
            .select_related("patient__ward", "patient__current_score")
            .filter(ended_at__isnull=True, since__lte=now - timedelta(seconds=persist_s))
            .order_by("since")[:SWEEP_LIMIT]
        )
        by_patient: dict[int, list[PersistenceHold]] = {}
        for hold in due:
            by_patient.setdefault(hold.patient_id, []).append(hold)
        for holds in by_patient.values():
            patient, score = holds[0].patient, holds[0].patient.current_score
            standing = [h for h in holds if score is None or not refuted(score.sub_scores.get(h.parameter))]
            for hold in holds:
                if hold not in standing:
                    _end(hold, Outcome.REFUTED, now)
            if standing:
                if score is not None and score.risk in RISK_SEVERITY:
                    raise_or_escalate(patient=patient, news=risk_news(score), now=now)  # its band, if not raised
                alert, _ = raise_or_escalate(patient=patient, news=persisted_news(score, standing, now), now=now)
                for hold in standing:
                    _end(hold, Outcome.RAISED, now, alert)
                raised += 1
    return raised


def persisted_news(score: Any, holds: list[PersistenceHold], now: datetime) -> AlertNews:
    """The single-parameter alert for held values that persisted (the current score's others too)."""
    from alerts.services.clinical import PARAMETER_LABEL

    values = {h.parameter: h.value for h in holds}
    for name in at_3(score):
        values.setdefault(name, score.sub_scores[name]["value"])
    names = sorted(values)
    labels = ", ".join(PARAMETER_LABEL.get(n, n) for n in names)
    waited = max(int((now - h.since).total_seconds()) for h in holds)
    shown = "; ".join(f"{PARAMETER_LABEL.get(n, n)} {values[n]}" for n in names)
    return AlertNews(
        kind=AlertKind.SINGLE_PARAMETER,
        severity=Severity.MEDIUM if len(names) > 1 else Severity.LOW_MEDIUM,
        title=f"{labels} scored 3",
        detail=(
            f"Red score (RCP NEWS2 chart 2): {shown}. Urgent ward-based response. "
            f"Held {waited} s by the persistence rule for continuous wearables; not contradicted since."
        ),
        score_id=score.pk if score is not None else None,
        data={
            "score_id": score.pk if score is not None else None,
            "parameters": names,
            "new": sorted(h.parameter for h in holds),
            "values": values,
            "persisted_s": waited,
            "total": score.total if score is not None else None,
            "risk": score.risk if score is not None else "",
        },
        always_escalate=True,
    )
