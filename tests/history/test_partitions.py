"""Observations and rejections live in monthly partitions: created ahead, with every row kept."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from devices.models import IngestRejection
from history.partitions import OBSERVATIONS, ensure_partitions, partitions_of
from patients.models import Observation
from tests.factories import DeviceFactory, ObservationFactory

NOW = dt.datetime(2027, 6, 15, 9, 30, tzinfo=dt.UTC)


def _names(table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [name for name, _ in partitions_of(cursor, table)]


def _holder(observation_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM patients_observation WHERE id = %s", [observation_id])
        return cursor.fetchone()[0]


def test_partitions_are_created_for_this_month_and_the_months_ahead(postgresql):
    created = ensure_partitions(now=NOW, months_ahead=3)

    for table in ("patients_observation", "devices_ingestrejection"):
        for month in ("2027_06", "2027_07", "2027_08", "2027_09"):
            assert f"{table}_p{month}" in created
            assert f"{table}_p{month}" in _names(table)
        assert f"{table}_p2027_10" not in _names(table)
    assert ensure_partitions(now=NOW, months_ahead=3) == []  # already there: nothing to do


def test_a_reading_with_no_month_of_its_own_waits_in_the_default_partition_and_moves_when_it_comes(postgresql):
    # Given a reading far ahead of every partition (a device clock years fast)
    reading = ObservationFactory(measured_at=dt.datetime(2031, 2, 3, tzinfo=dt.UTC))
    assert _holder(reading.pk) == "patients_observation_default"

    # When its month's partition is created
    ensure_partitions(now=dt.datetime(2031, 2, 1, tzinfo=dt.UTC), months_ahead=0)

    # Then the reading moved there, once, unchanged
    assert _holder(reading.pk) == "patients_observation_p2031_02"
    assert Observation.objects.filter(pk=reading.pk, value=reading.value).count() == 1


def test_ingest_exactly_once_still_holds_on_the_partitioned_table(postgresql):
    # The unique index now includes measured_at: the same reading of the same message collides.
    first = ObservationFactory(msg_id="m-1", msg_index=0, measured_at=NOW)
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ObservationFactory(patient=first.patient, device=first.device, msg_id="m-1", msg_index=0, measured_at=NOW)


def test_partition_maintenance_does_nothing_on_sqlite(db):
    if connection.vendor == "postgresql":
        pytest.skip("the SQLite behaviour; the PostgreSQL one is tested above")
    assert ensure_partitions(now=NOW, months_ahead=3) == []
    assert DeviceFactory().pk is not None
    assert IngestRejection.objects.count() == 0
    assert OBSERVATIONS.table == Observation._meta.db_table


def test_the_beat_task_creates_months_ahead_and_says_so_when_its_role_may_not(db, monkeypatch, caplog, settings):
    from django.db import ProgrammingError

    from history import tasks

    settings.VW_PARTITION_MONTHS_AHEAD = 2
    asked = []
    monkeypatch.setattr(tasks, "ensure_partitions", lambda **kw: asked.append(kw) or ["p"])
    assert tasks.create_partitions_ahead() == ["p"] and asked[0]["months_ahead"] == 2

    def refused(**kw):
        raise ProgrammingError("permission denied for table patients_observation")

    monkeypatch.setattr(tasks, "ensure_partitions", refused)
    assert tasks.create_partitions_ahead() == []
    assert "run `manage.py history partitions` as the owner role" in caplog.text
