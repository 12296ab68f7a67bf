"""The platform's two database roles on the test database, for tests that act as the application."""

from __future__ import annotations

import os
import re

import pytest


def _role_names() -> tuple[str, str]:
    from django.db import connection

    base = re.sub(r"[^a-z0-9_]", "_", connection.settings_dict["NAME"].lower())[:50]
    return f"{base}_owner", f"{base}_app"


def regrant_if_made() -> None:
    """Apply the roles' ownership and grants again, if this run has made the roles.

    For tests that migrate backwards and forwards again outside a transaction (the partitioning
    tests): the superuser remakes tables then, and the grants must follow them, as
    ``db_roles --migrate`` does after a deployment's migrations.
    """
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    owner, app = _role_names()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s)", [owner, app])
        if cursor.fetchone()[0] < 2:
            return
    call_command("db_roles", owner=owner, app=app, stdout=open(os.devnull, "w"))  # noqa: SIM115


@pytest.fixture(scope="session")
def db_roles(django_db_setup, django_db_blocker):
    """The owner and application roles, made by ``manage.py db_roles`` on the test database.

    Role names follow the test database's name, so runs against one server do not share roles.
    """

    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    owner, app = _role_names()
    with django_db_blocker.unblock():
        call_command("db_roles", owner=owner, app=app, stdout=open(os.devnull, "w"))  # noqa: SIM115
    return {"owner": owner, "app": app}
