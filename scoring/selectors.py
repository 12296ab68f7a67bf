"""Reads of early-warning scores, and the one JSON shape the API and websockets share."""

from __future__ import annotations

from typing import Any

from scoring.models import EarlyWarningScore


def score_to_dict(score: EarlyWarningScore) -> dict[str, Any]:
    """A score as the API and the dashboard show it.

    An incomplete score says so, lists what is missing or stale, and marks its total and risk
    as lower bounds: a missing parameter is never shown as if it were normal.
    """
    return {
        "id": score.pk,
        "patient_id": score.patient_id,
        "computed_at": score.computed_at.isoformat(),
        "as_of": score.as_of.isoformat(),
        "total": score.total,
        "risk": score.risk,
        "band": score.band,
        "spo2_scale": score.spo2_scale,
        "complete": score.complete,
        "lower_bound": not score.complete,
        "single_parameter_3": score.single_parameter_3,
        "sub_scores": score.sub_scores,
        "missing": list(score.missing),
        "stale": list(score.stale),
        "clinical_response": score.clinical_response,
        "monitoring_frequency": score.monitoring_frequency,
        "monitoring_interval_s": score.monitoring_interval_s,
    }
