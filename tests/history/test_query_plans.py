"""The hot queries over history name the partition key, and PostgreSQL prunes the other months."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from history.downsample import _BUCKETS_SQL
from history.partitions import OBSERVATIONS, create_month, month_start, next_month
from patients.models import Observation
from scoring.selectors import _NEWEST_SQL

OLD_MONTHS = ["2025_01", "2025_02", "2025_03", "2025_04"]


@pytest.fixture
def years(postgresql):
    with connection.cursor() as cursor:
        start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        while start < month_start(timezone.now()):
            create_month(cursor, OBSERVATIONS, start)
            start = next_month(start)
        cursor.execute("ANALYZE patients_observation")


def _plan(sql: str, params) -> str:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def _assert_pruned(plan: str, *, reads: str, open_ended: bool = False) -> None:
    assert reads in plan, plan
    for month in OLD_MONTHS:
        assert f"patients_observation_p{month}" not in plan, plan
    # A window with no end may reach the default partition (readings dated past every month
    # created, normally none); one with an end never does.
    assert open_ended or "patients_observation_default" not in plan, plan


def test_rescoring_reads_only_the_months_of_its_look_back(years, settings):
    settings.VW_SCORING_LOOKBACK_DAYS = 30
    since = timezone.now() - dt.timedelta(days=30)
    plan = _plan(_NEWEST_SQL, [[1, 2], ["spo2", "heart_rate"], since])
    _assert_pruned(plan, reads=f"patients_observation_p{timezone.now():%Y_%m}", open_ended=True)


def test_a_thirty_day_chart_reads_only_its_months_raw_or_down_sampled(years):
    until = timezone.now()
    since = until - dt.timedelta(days=30)
    raw = Observation.objects.in_window(since, until).filter(patient_id=1).order_by("measured_at")
    _assert_pruned(raw.explain(), reads=f"patients_observation_p{until:%Y_%m}")
    buckets = _plan(_BUCKETS_SQL, [dt.timedelta(hours=1), since, 1, since, until, ["consciousness"]])
    _assert_pruned(buckets, reads=f"patients_observation_p{until:%Y_%m}")


def test_the_api_list_with_a_period_reads_only_its_months(years):
    until = timezone.now()
    queryset = Observation.objects.in_window(until - dt.timedelta(days=7), until).order_by("-measured_at", "-id")[:100]
    _assert_pruned(queryset.explain(), reads=f"patients_observation_p{until:%Y_%m}")
