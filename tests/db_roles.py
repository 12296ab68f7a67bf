"""The platform's two database roles on the test database, for tests that act as the application."""

from __future__ import annotations

import os
import re

import pytest


@pytest.fixture
def db_roles(django_db_setup, django_db_blocker):
    """The owner and application roles, made by ``manage.py db_roles`` on the test database.

    Role names follow the test database's name, so runs against one server do not share roles.
    Applied afresh for each test (the command is idempotent): a test that migrates backwards and
    forwards again, as the partitioning tests do, remakes tables as the superuser, and their
    grants must follow as they do after a deployment's migrations.
    """

    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    base = re.sub(r"[^a-z0-9_]", "_", connection.settings_dict["NAME"].lower())[:50]
    owner, app = f"{base}_owner", f"{base}_app"
    with django_db_blocker.unblock():
        call_command("db_roles", owner=owner, app=app, stdout=open(os.devnull, "w"))  # noqa: SIM115
    return {"owner": owner, "app": app}
