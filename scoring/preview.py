"""The NEWS2 a hand-entered observation set will produce, before it is saved.

The rescore that follows a save scores the newest reading of each parameter that is still
fresh (scoring.freshness), so a set that leaves pulse blank is scored with the oximeter's pulse
from ten minutes ago, and a blank with no fresh reading is missing. The preview does exactly
that, through the same functions (newest_readings, current_vitals, news2.score), with the set
laid over the stored readings as the save would lay it. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from patients.models import Patient
from scoring import news2
from scoring.freshness import Reading, current_vitals
from scoring.services import freshness_windows, newest_readings


@dataclass(frozen=True)
class Preview:
    result: news2.News2Result
    from_set: tuple[str, ...]  # parameters the set supplies
    from_earlier: dict[str, Reading]  # parameters taken from a fresh stored reading
    stale: tuple[str, ...]  # parameters whose newest reading is too old to count (missing)


def news2_preview(
    *, patient: Patient, values: Mapping[str, object], measured_at: datetime, now: datetime | None = None
) -> Preview:
    now = now or timezone.now()
    readings = dict(newest_readings([patient.pk]).get(patient.pk, {}))
    for parameter, value in values.items():
        if parameter not in news2.PARAMETERS:
            continue
        stored = readings.get(parameter)
        # The newest reading wins, as in the rescore: a set back-dated behind a device reading
        # does not replace it.
        if stored is None or measured_at >= stored.measured_at:
            readings[parameter] = Reading(parameter, value, measured_at)  # type: ignore[arg-type]
    current = current_vitals(readings, now=now, spo2_scale=patient.spo2_scale, freshness=freshness_windows())
    result = news2.score(current.vitals)
    from_set = tuple(p for p, r in current.used.items() if r.observation_id is None)
    earlier = {p: r for p, r in current.used.items() if r.observation_id is not None}
    return Preview(result=result, from_set=from_set, from_earlier=earlier, stale=current.stale)
