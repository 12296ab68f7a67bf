"""The safety net under rescoring: a periodic sweep that finds patients whose score is behind
their readings, and sends their rescore.

Rescoring is requested after ingest commits (scoring.services) and normally runs within a
second. A request can still be lost: a worker killed after its task took the waiting patients,
a task that failed for good, a broker that lost its queue. The doorbells and the broker's
visibility timeout recover most of these by themselves, but only later, or only when another
reading comes. This sweep looks at the database alone, so it recovers every one of them the
same way: every VW_RESCORE_SWEEP_SECONDS (Celery beat) it finds each patient whose score does
not reflect a reading received more than VW_RESCORE_OVERDUE_SECONDS ago and sends their rescore
straight to the prompt queue, whatever the doorbells say.

It cannot score anyone wrongly or twice: rescoring locks the patient and stores a score only if
its inputs changed, so a patient swept while their own task also runs is scored once, and a
patient swept for nothing (their task ran meanwhile) costs one read.

What "behind" means is what scoring itself would do (services._rescore_locked): the newest
readable reading of a NEWS2 parameter that is fresh now, but is not the one the score used; any
readable reading at all for a patient with no score yet; a score on another SpO2 scale than the
patient's. A reading that arrived already past its freshness window cannot change the score's
total and is not chased.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from patients.models import Patient
from scoring import services
from scoring.freshness import DEFAULT_FRESHNESS
from scoring.models import EarlyWarningScore
from scoring.selectors import newest_observation_rows
from scoring.urgency import chart_value

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Candidate:
    spo2_scale: int
    scale_set_at: datetime | None
    score_id: int | None


def patients_behind_their_score(
    *, now: datetime, received_before: datetime, freshness: Mapping[str, timedelta]
) -> dict[int, datetime]:
    """Active patients whose score does not reflect something received by ``received_before``,
    each with when the oldest such thing arrived.

    Only patients with no score, or a score computed by ``received_before``, can be behind: a
    score computed later read every reading committed by then. That keeps the sweep to the
    patients not scored lately, and to one indexed ``LIMIT 1`` per parameter for each of them.
    """
    candidates = {
        pk: _Candidate(scale, set_at, score_id)
        for pk, scale, set_at, score_id in Patient.objects.filter(discharged_at__isnull=True)
        .filter(Q(current_score__isnull=True) | Q(current_score__computed_at__lte=received_before))
        .values_list("pk", "spo2_scale", "spo2_scale_set_at", "current_score_id")
    }
    scores = {
        pk: (scale, sub_scores)
        for pk, scale, sub_scores in EarlyWarningScore.objects.filter(
            pk__in=[c.score_id for c in candidates.values() if c.score_id is not None]
        ).values_list("pk", "spo2_scale", "sub_scores")
    }
    windows = {**DEFAULT_FRESHNESS, **freshness}
    behind: dict[int, datetime] = {}
    for patient_id, candidate in candidates.items():
        score = scores.get(candidate.score_id) if candidate.score_id is not None else None
        if score is not None and score[0] != candidate.spo2_scale:
            since = candidate.scale_set_at or received_before
            if since <= received_before:
                behind[patient_id] = since
    for obs_id, patient_id, parameter, value, code, measured_at, received_at in newest_observation_rows(candidates):
        if received_at > received_before or chart_value(parameter, value, code) is None:
            continue  # too recent to be overdue, or nothing scoring could use
        score = scores.get(candidates[patient_id].score_id)
        if score is not None:
            used = (score[1].get(parameter) or {}).get("observation_id")
            if used == obs_id or now - measured_at > windows[parameter]:
                continue  # already in the score, or too old to be scored as current
        behind[patient_id] = min(received_at, behind.get(patient_id, received_at))
    return behind


def sweep_unscored(*, now: datetime | None = None) -> list[int]:
    """Send the rescore of every patient overdue for one (at most VW_RESCORE_SWEEP_BATCH, the
    longest waiting first); returns their ids.

    A patient waiting in the routine list is overdue only VW_RESCORE_OVERDUE_SECONDS after the
    routine countdown: its readings wait that long by design (docs/news2.md), and sweeping them
    sooner would rescore every stable patient twice, on the prompt worker.
    """
    now = now or timezone.now()
    overdue_after = timedelta(seconds=settings.VW_RESCORE_OVERDUE_SECONDS)
    routine_after = overdue_after + timedelta(seconds=max(settings.VW_ROUTINE_RESCORE_SECONDS, 0))
    behind = patients_behind_their_score(
        now=now, received_before=now - overdue_after, freshness=services.freshness_windows()
    )
    routine = services.waiting_routinely(behind) if behind else set()
    overdue = sorted(
        (since, patient_id)
        for patient_id, since in behind.items()
        if patient_id not in routine or since <= now - routine_after
    )[: settings.VW_RESCORE_SWEEP_BATCH]
    ids = sorted(patient_id for _, patient_id in overdue)
    if ids:
        _send_rescore_now(ids)
        logger.warning(
            "rescore sweep: %d patient(s) overdue, the longest waiting %.0f s; their rescore is sent",
            len(ids),
            (now - overdue[0][0]).total_seconds(),
        )
    return ids


def _send_rescore_now(patient_ids: list[int]) -> None:
    """To the prompt queue, past any doorbell or mark. The task expires after a sweep period and
    the bound: if the prompt worker is down, the sweeps' sends do not pile up for it to work
    through on its return; the next sweep sends again."""
    from scoring.tasks import rescore_patients

    expires = settings.VW_RESCORE_SWEEP_SECONDS + settings.VW_RESCORE_OVERDUE_SECONDS
    rescore_patients.apply_async(args=[patient_ids], queue=settings.VW_PROMPT_QUEUE, expires=expires)
