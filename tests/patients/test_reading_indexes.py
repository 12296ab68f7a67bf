"""Every stored reading pays for each index on its table: only the ones queries use are kept."""

import pytest
from django.db import connection

from devices.models import ReceivedMessage
from patients.models import Observation

pytestmark = pytest.mark.django_db


def _indexed_columns(model) -> set[tuple[str, ...]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
    return {tuple(c["columns"]) for c in constraints.values() if c["index"] or c["unique"]}


def test_readings_carry_no_single_column_index_that_a_wider_one_already_serves():
    indexed = _indexed_columns(Observation)
    # patient and device look-ups use the wider indexes that start with them
    assert ("patient_id",) not in indexed and ("device_id",) not in indexed
    assert ("patient_id", "type", "measured_at") in indexed
    assert ("patient_id", "measured_at") in indexed
    # redelivery's guard: unique per device message item, with the time it was measured because
    # the table is partitioned by time on PostgreSQL (docs/history.md)
    assert ("device_id", "msg_id", "msg_index", "measured_at") in indexed
    # readings entered by a person are found through an index of their own
    assert ("entered_by_id",) in indexed


def test_idempotency_records_are_found_by_device_through_their_unique_index():
    indexed = _indexed_columns(ReceivedMessage)
    assert ("device_id",) not in indexed
    assert ("device_id", "msg_id") in indexed


def test_the_entered_by_index_holds_only_readings_a_person_entered():
    query = (
        "SELECT indexdef FROM pg_indexes WHERE indexname = 'obs_entered_by'"
        if connection.vendor == "postgresql"
        else "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'obs_entered_by'"
    )
    with connection.cursor() as cursor:
        cursor.execute(query)
        (definition,) = cursor.fetchone()
    assert "entered_by_id" in definition and "IS NOT NULL" in definition.replace('"', "")
