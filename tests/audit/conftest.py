"""A ward with a patient and the staff who may and may not see them (shared by the audit tests)."""

from __future__ import annotations

import os

import pytest

from accounts.models import Role
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


@pytest.fixture(scope="session")
def db_roles(django_db_setup, django_db_blocker):
    """The owner and application roles, made by ``manage.py db_roles`` on the test database.

    Role names follow the test database's name, so runs against one server do not share roles.
    """
    import re

    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    base = re.sub(r"[^a-z0-9_]", "_", connection.settings_dict["NAME"].lower())[:50]
    owner, app = f"{base}_owner", f"{base}_app"
    with django_db_blocker.unblock():
        call_command("db_roles", owner=owner, app=app, stdout=open(os.devnull, "w"))  # noqa: SIM115
    return {"owner": owner, "app": app}
