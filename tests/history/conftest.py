from __future__ import annotations

import os

import pytest
from django.db import connection

from tests.db_roles import regrant_if_made


def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        if os.environ.get("VW_REQUIRE_SERVICES") == "true":
            pytest.fail("this run requires PostgreSQL (VW_REQUIRE_SERVICES=true) but the database is not PostgreSQL")
        pytest.skip("time partitions exist only on PostgreSQL (set DATABASE_URL); CI runs it")


@pytest.fixture
def postgresql(db):
    """For tests of partitions: skipped on SQLite (a fresh machine), failed, never skipped, in CI."""
    _require_postgresql()


@pytest.fixture
def postgresql_migrating(transactional_db):
    _require_postgresql()
    yield
    # the migrations remade tables as the superuser: their grants follow, as after a deployment
    regrant_if_made()
