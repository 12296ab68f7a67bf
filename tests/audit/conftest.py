"""A ward with a patient and the staff who may and may not see them (shared by the audit tests)."""

from __future__ import annotations

import os

import pytest

from accounts.models import Role
from tests.db_roles import db_roles  # noqa: F401  (a fixture)
from tests.factories import PatientFactory, UserFactory, WardFactory


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ward(db):
    return WardFactory(name="Ward A")


@pytest.fixture
def patient(ward):
    return PatientFactory(ward=ward)


@pytest.fixture
def clinician(ward):
    user = UserFactory(username="clin-a", role=Role.CLINICIAN)
    ward.staff.add(user)
    return user


@pytest.fixture
def postgresql(db):
    """For tests that only mean something on PostgreSQL: skipped on SQLite (a fresh machine),
    failed, never skipped, when the run requires the real services (CI)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        if os.environ.get("VW_REQUIRE_SERVICES") == "true":
            pytest.fail("this run requires PostgreSQL (VW_REQUIRE_SERVICES=true) but the database is not PostgreSQL")
        pytest.skip("needs PostgreSQL (set DATABASE_URL); CI runs it")
