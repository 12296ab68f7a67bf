"""Ingest's database back-off: doubling, capped at 2 s and jittered, so it resumes promptly."""

from __future__ import annotations

import random

import pytest
from django.db import OperationalError

from devices.ingest import worker as worker_module
from devices.ingest.worker import RETRY_MAX_S, IngestWorker, retry_delay
from patients.models import Observation
from tests.ingest.test_worker import FakeLink, _received


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(0, 0.125, 0.25), (1, 0.25, 0.5), (2, 0.5, 1.0), (3, 1.0, 2.0), (4, 1.0, 2.0), (60, 1.0, 2.0)],
)
def test_each_retry_waits_between_half_and_all_of_the_capped_doubling(attempt, low, high):
    # given many draws of the delay before one retry
    delays = [retry_delay(attempt, base_s=0.25, max_s=2.0, rng=random.Random(seed)) for seed in range(200)]

    # then every one lies in its band, and they are spread across it
    assert all(low <= delay <= high for delay in delays)
    assert max(delays) - min(delays) > (high - low) / 2


def test_two_ingest_processes_that_lost_the_database_together_do_not_retry_in_step():
    # given two processes with their own randomness
    first, second = random.Random(1), random.Random(2)

    # when both compute their first ten delays
    ours = [retry_delay(n, base_s=0.25, max_s=2.0, rng=first) for n in range(10)]
    theirs = [retry_delay(n, base_s=0.25, max_s=2.0, rng=second) for n in range(10)]

    # then no two delays coincide
    assert all(abs(a - b) > 1e-6 for a, b in zip(ours, theirs, strict=True))


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_database_was_down_a_long_time_tries_again_within_two_seconds(device, obs_at, monkeypatch):
    # given a database that fails twelve times (a restart of over ten seconds), then returns
    failures = iter(range(12))
    real = worker_module.handle_batch

    def flaky(messages):
        if next(failures, None) is not None:
            raise OperationalError("the database system is starting up")
        return real(messages)

    monkeypatch.setattr(worker_module, "handle_batch", flaky)
    worker = IngestWorker(FakeLink())
    waits: list[float] = []
    monkeypatch.setattr(worker.stopping, "wait", lambda timeout: waits.append(timeout) or False)

    # when a message arrives during the outage
    worker.process([_received(obs_at, "m-1")])

    # then it is stored, and no wait between two attempts was longer than the 2 s cap
    assert Observation.objects.count() == 1
    assert len(waits) == 12
    assert max(waits) <= RETRY_MAX_S
    assert sum(waits) < 12 * RETRY_MAX_S
