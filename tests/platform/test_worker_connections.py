"""A worker keeps its database connection from task to task, as a web process does between requests.

Celery's Django fix-up closed it around every task, so each prompt rescore (each alert) began by
opening a new PostgreSQL connection. These run the fix-up's and the project's task hooks as a
worker runs them, against the test database.
"""

import time
from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from virtualward.celery import app, tidy_database_connections

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite", reason="Django never closes the in-memory SQLite test database"
    ),
]


def _task(*, eager: bool) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


def _open() -> object:
    """A connection opened now: one opened by an earlier test may already be past CONN_MAX_AGE
    (60 s), and then dropping it around the task would be right."""
    connection.close()
    connection.ensure_connection()
    return connection.connection


def test_a_good_connection_outlives_a_task_in_a_worker():
    fixup = DjangoWorkerFixup(app)
    task = _task(eager=False)
    raw = _open()

    fixup.on_task_prerun(sender=task)
    tidy_database_connections(task=task)
    fixup.on_task_postrun(sender=task)
    tidy_database_connections(task=task)

    assert connection.connection is raw, "the connection was closed after the task"


def test_without_the_reuse_setting_the_fix_up_would_close_it_every_task(monkeypatch):
    monkeypatch.setitem(app.conf, "CELERY_DB_REUSE_MAX", None)
    fixup = DjangoWorkerFixup(app)
    _open()

    fixup.on_task_postrun(sender=_task(eager=False))

    assert connection.connection is None


def test_a_connection_past_its_age_is_dropped_around_a_task():
    _open()
    connection.close_at = time.monotonic() - 1  # CONN_MAX_AGE ran out

    tidy_database_connections(task=_task(eager=False))

    assert connection.connection is None


def test_a_connection_left_outside_autocommit_is_dropped_around_a_task():
    _open()
    connection.set_autocommit(False)

    tidy_database_connections(task=_task(eager=False))

    assert connection.connection is None


def test_an_eager_task_leaves_its_caller_s_connection_alone():
    raw = _open()
    connection.close_at = time.monotonic() - 1

    tidy_database_connections(task=_task(eager=True))

    assert connection.connection is raw
