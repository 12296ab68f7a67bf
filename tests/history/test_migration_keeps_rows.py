"""The partitioning migrations keep every row: migrate back, store rows, migrate forward, compare."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from history.partitions import is_partitioned, partitions_of
from patients.models import Observation
from tests.factories import DeviceFactory, UserFactory

BEFORE = [("patients", "0007_daily_return"), ("devices", "0006_merge_certificates_keys_and_network")]
MONTHS = [dt.datetime(2024, 1, 31, 23, 59, 59, tzinfo=dt.UTC), dt.datetime(2025, 7, 1, tzinfo=dt.UTC)]


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


def _latest() -> list[tuple[str, str]]:
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY id")
        return cursor.fetchall()


@pytest.mark.timeout(120)
def test_partitioning_and_back_keeps_every_observation_and_rejection(postgresql_migrating):
    # Given a database from before partitioning, holding readings of several months and years
    device, nurse = DeviceFactory(), UserFactory()
    _migrate(BEFORE)
    try:
        with connection.cursor() as cursor:
            assert not is_partitioned(cursor, "patients_observation")
            for n in range(300):
                at = MONTHS[n % 2] + dt.timedelta(minutes=n)
                by_hand = n % 10 == 0
                cursor.execute(
                    "INSERT INTO patients_observation (patient_id, type, value, code, unit, measured_at, received_at,"
                    " device_id, msg_id, msg_index, entered_by_id, is_late) "
                    "VALUES (%s, 'spo2', %s, '', '%%', %s, %s, %s, %s, %s, %s, false)",
                    [device.patient_id, 90 + n % 10, at, at, None if by_hand else device.pk,
                     "" if by_hand else f"m-{n}", None if by_hand else 0, nurse.pk if by_hand else None],
                )  # fmt: skip
                cursor.execute(
                    "INSERT INTO devices_ingestrejection (device_id, device_ref, topic, msg_id, index, reason,"
                    " received_at, excerpt) VALUES (%s, 'd', 't', %s, 1, 'spo2 value 150 outside 50-100 %%', %s, '')",
                    [device.pk, f"m-{n}", at],
                )
        before = {table: _rows(table) for table in ("patients_observation", "devices_ingestrejection")}

        # When the partitioning migrations run
        _migrate(_latest())

        # Then every row is there, unchanged, each in its month's partition
        for table, rows in before.items():
            assert _rows(table) == rows
            with connection.cursor() as cursor:
                assert is_partitioned(cursor, table)
                names = [name for name, _ in partitions_of(cursor, table)]
            assert f"{table}_p2024_01" in names and f"{table}_p2025_07" in names
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM patients_observation_default")
            assert cursor.fetchone()[0] == 0
        # and new readings get ids after the old ones
        newest = max(row[0] for row in before["patients_observation"])
        made = Observation.objects.create(
            patient_id=device.patient_id, type="spo2", value=95, unit="%", measured_at=MONTHS[1],
            received_at=MONTHS[1], device=device, msg_id="after", msg_index=0,
        )  # fmt: skip
        assert made.pk > newest

        # And back again: still every row, in one plain table
        rows_now = {table: _rows(table) for table in before}
        _migrate(BEFORE)
        for table, rows in rows_now.items():
            assert _rows(table) == rows
            with connection.cursor() as cursor:
                assert not is_partitioned(cursor, table)
    finally:
        _migrate(_latest())
