"""Rows read in PostgreSQL's binary format: the same values as Django's reads, Django's errors."""

import datetime as dt

import pytest
from django.db import DatabaseError, connection
from django.utils import timezone

from devices.models import Device
from tests.factories import DeviceFactory
from virtualward.binary_rows import fetch_binary

pytestmark = pytest.mark.django_db

needs_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's binary format")


@needs_postgresql
def test_timestamps_come_back_aware_and_equal_to_the_orms():
    seen = timezone.now().replace(microsecond=123456)
    device = DeviceFactory(last_seen_at=seen, offline_since=None)
    table = Device._meta.db_table
    rows = fetch_binary(f"SELECT id, last_seen_at, offline_since FROM {table} WHERE id = ANY(%s)", [[device.pk]])
    assert rows == [(device.pk, seen, None)]
    assert rows[0][1].utcoffset() == dt.timedelta(0)
    assert rows[0][1] == Device.objects.values_list("last_seen_at", flat=True).get(pk=device.pk)


@needs_postgresql
def test_a_database_error_is_djangos_so_callers_retrying_on_it_still_do():
    with pytest.raises(DatabaseError):
        fetch_binary("SELECT no_such_column FROM devices_device", [])


def test_elsewhere_it_refuses_rather_than_read_text():
    if connection.vendor == "postgresql":
        assert fetch_binary("SELECT 1", []) == [(1,)]
    else:
        with pytest.raises(RuntimeError, match="PostgreSQL"):
            fetch_binary("SELECT 1", [])


@needs_postgresql
def test_its_statements_are_logged_where_djangos_are():
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        fetch_binary("SELECT 42", [])
    assert [query["sql"] for query in queries.captured_queries] == ["SELECT 42"]
