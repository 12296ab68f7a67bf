"""Shared test set-up: which real services to use, and the fixtures that reach them.

Under CI (`make test` with CI=true) DATABASE_URL, REDIS_URL and MQTT_URL point at the machine's
real PostgreSQL, Redis and Mosquitto, and the run fails at once if any is unreachable. On a
fresh machine without them the same tests run on SQLite, fakeredis and an embedded broker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from virtualward.embedded import embedded_mqtt, embedded_redis, url_reachable

# The clinical safety case's check (docs/clinical-safety): every test the hazard log names must exist,
# and in CI must not be skipped. pytester runs it on small logs in tests/safety/.
pytest_plugins = ("pytester", "virtualward.safety.pytest_plugin")


def pytest_sessionstart(session: pytest.Session) -> None:
    if os.environ.get("VW_REQUIRE_SERVICES") != "true":
        return
    problems = []
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        problems.append("DATABASE_URL does not point at PostgreSQL")
    elif not url_reachable(settings.DATABASE_URL, 5432):
        problems.append(f"PostgreSQL unreachable at {settings.DATABASE_URL}")
    for name, url, port in (("REDIS_URL", settings.REDIS_URL, 6379), ("MQTT_URL", settings.MQTT_URL, 1883)):
        if not url:
            problems.append(f"{name} is not set")
        elif not url_reachable(url, port):
            problems.append(f"{name} unreachable at {url}")
    if problems:
        pytest.exit("CI requires the real services: " + "; ".join(problems), returncode=3)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database, and before it is dropped, no other session left on it.

    Threads that outlive their tests keep their own connections open: asgiref's executor
    thread, which runs the Channels consumers' database calls, and the Celery worker's. On
    PostgreSQL the drop then fails ("being accessed by other users") and leaves the test
    database behind for the next run. They are ended here, once every test is done.
    """
    yield
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session")
def mqtt_url() -> Iterator[str]:
    """The real broker when MQTT_URL is set (always in CI), else an embedded one."""
    if settings.MQTT_URL:
        yield settings.MQTT_URL
        return
    with embedded_mqtt() as url:
        yield url


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The real Redis when REDIS_URL is set (always in CI), else a fakeredis server."""
    if settings.REDIS_URL:
        yield settings.REDIS_URL
        return
    with embedded_redis() as url:
        yield url


@pytest.fixture
def api_as() -> Callable[..., APIClient]:
    """An API client authenticated with a real token, as an integration would be."""

    def make(user) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make
