"""A patient's readings for a chart, down-sampled in the database for long periods.

A 30-day chart of a continuous patch is tens of thousands of readings a parameter; the browser
needs a few hundred points. Past ``RAW_POINTS_LIMIT`` readings in the period, numeric readings
are averaged per time bucket in PostgreSQL (``date_bin``), each point carrying the bucket's
minimum and maximum so a brief low SpO2 is never averaged out of sight, and how many readings
it stands for. Readings that are not averaged stay one point each: ACVPU codes, on-oxygen,
falls, and anything entered by hand. Late and manual readings keep their flags.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Q

from patients.models import Observation, VitalType

RAW_POINTS_LIMIT = 2000
TARGET_POINTS = 500  # per parameter, once down-sampled
NOT_AVERAGED = (VitalType.CONSCIOUSNESS, VitalType.ON_OXYGEN, VitalType.FALL_DETECTED)


def observation_series(*, patient_id: int, since: datetime, until: datetime) -> dict[str, list[dict[str, Any]]]:
    window = Observation.objects.in_window(since, until + timedelta(microseconds=1)).filter(patient_id=patient_id)
    if connection.vendor != "postgresql" or window.count() <= RAW_POINTS_LIMIT:
        return _raw(window)
    averaged = Q(entered_by__isnull=True, value__isnull=False) & ~Q(type__in=NOT_AVERAGED)
    series = _raw(window.exclude(averaged))
    bucket = max((until - since) / TARGET_POINTS, timedelta(seconds=60))
    with connection.cursor() as cursor:
        cursor.execute(_BUCKETS_SQL, [bucket, since, patient_id, since, until, list(NOT_AVERAGED)])
        for obs_type, at, mean, low, high, count, late in cursor.fetchall():
            series.setdefault(obs_type, []).append(
                {"t": at.isoformat(), "v": mean, "min": low, "max": high, "n": count, "late": late, "manual": False}
            )
    for points in series.values():
        points.sort(key=lambda point: point["t"])
    return series


def _raw(observations) -> dict[str, list[dict[str, Any]]]:
    series: dict[str, list[dict[str, Any]]] = {}
    rows = observations.order_by("measured_at").values(
        "type", "value", "code", "measured_at", "is_late", "entered_by_id"
    )
    for obs in rows:
        series.setdefault(obs["type"], []).append(
            {
                "t": obs["measured_at"].isoformat(),
                "v": obs["code"] or obs["value"],
                "late": obs["is_late"],
                "manual": obs["entered_by_id"] is not None,
            }
        )
    return series


_BUCKETS_SQL = f"""
    SELECT type, date_bin(%s, measured_at, %s) AS at, avg(value), min(value), max(value), count(*), bool_or(is_late)
    FROM {Observation._meta.db_table}
    WHERE patient_id = %s AND measured_at >= %s AND measured_at <= %s
      AND entered_by_id IS NULL AND value IS NOT NULL AND NOT (type = ANY(%s))
    GROUP BY type, at
    ORDER BY type, at
"""  # noqa: S608 - the model's own table name
