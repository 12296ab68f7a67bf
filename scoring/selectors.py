"""Reads of early-warning scores and of the readings they are made from, and the one JSON shape
the API and websockets share."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from patients.models import Observation, Patient
from scoring import news2
from scoring.models import EarlyWarningScore
from virtualward.binary_rows import fetch_binary

# (observation id, patient id, type, value, code, measured_at, received_at)
ObservationRow = tuple[int, int, str, float | None, str, datetime, datetime]


def newest_observation_rows(patient_ids: Iterable[int]) -> list[ObservationRow]:
    """The newest stored reading of each NEWS2 parameter per patient: one query on PostgreSQL,
    two elsewhere. Scoring reads these (services.newest_readings), and so does the safety-net
    sweep (scoring.sweep), which also needs when each was received.

    A ``LIMIT 1`` per patient and parameter picks each newest through the (patient, type, time)
    index, so the cost does not grow with a patient's history; a window function over every
    reading (the first version) read all of them, and slowed down day by day on a continuous
    wearable.
    """
    ids = list(patient_ids)
    # Bounded by the partition key (history.partitions), so a rescore reads the last month or
    # two of partitions, not every one kept. A parameter last measured before the look-back is
    # missing, never normal: the score is incomplete either way (stale or missing).
    since = timezone.now() - timedelta(days=settings.VW_SCORING_LOOKBACK_DAYS)
    if connection.vendor == "postgresql":
        # One statement, written out: a LATERAL LIMIT 1 per patient and parameter. Building the
        # ORM's seven correlated subqueries cost more than running them, on every rescore.
        return fetch_binary(_NEWEST_SQL, [ids, list(news2.PARAMETERS), since])
    newest_ids = (
        Patient.objects.filter(pk__in=ids)
        .annotate(
            **{
                f"newest_{parameter}": Subquery(
                    Observation.objects.in_window(since)
                    .filter(patient_id=OuterRef("pk"), type=parameter)
                    .order_by("-measured_at", "-id")
                    .values("id")[:1]
                )
                for parameter in news2.PARAMETERS
            }
        )
        .values_list(*(f"newest_{parameter}" for parameter in news2.PARAMETERS))
    )
    wanted = [obs_id for row in newest_ids for obs_id in row if obs_id is not None]
    return list(
        Observation.objects.filter(pk__in=wanted)
        .order_by()
        .values_list("id", "patient_id", "type", "value", "code", "measured_at", "received_at")
    )


_NEWEST_SQL = f"""
    SELECT o.id, o.patient_id, o.type, o.value, o.code, o.measured_at, o.received_at
    FROM unnest(%s::bigint[]) AS p(id)
    CROSS JOIN unnest(%s::varchar[]) AS t(type)
    CROSS JOIN LATERAL (
        SELECT id, patient_id, type, value, code, measured_at, received_at FROM {Observation._meta.db_table}
        WHERE patient_id = p.id AND type = t.type AND measured_at >= %s
        ORDER BY measured_at DESC, id DESC
        LIMIT 1
    ) AS o
"""  # noqa: S608 - the model's own table name


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
