"""Fixtures of the fault suite: the Celery broker (Redis) of one test, and its processes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import redis
from celery import Celery
from django.test import override_settings

from tests.processes import LoggedProcess
from virtualward.celery import app as project_app


@pytest.fixture
def task_queue(redis_url: str, settings) -> Iterator[SimpleNamespace]:
    """This test's Redis database, emptied before and after; a prompt queue of its own; and this
    process sending tasks to it as ingest does (the doorbells on Redis, tasks to the broker)."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    settings.VW_PROMPT_QUEUE = f"vw-faults-{uuid.uuid4().hex[:8]}.prompt"
    app = Celery("vw-faults", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(broker_url=redis_url, task_always_eager=False)
    cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}}
    with override_settings(CACHES=cache):
        app.set_current()
        try:
            yield SimpleNamespace(url=redis_url, client=client, prompt_queue=settings.VW_PROMPT_QUEUE)
        finally:
            project_app.set_current()
            client.flushdb()
            client.close()


@pytest.fixture
def processes() -> Iterator[list[LoggedProcess]]:
    started: list[LoggedProcess] = []
    yield started
    for process in started:
        process.stop()
