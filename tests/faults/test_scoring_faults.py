"""Scoring heals itself: real Celery worker and beat processes, a worker killed with kill -9 in the
middle of a rescore, a database that is unreachable for 20 s. The aim (docs/operations.md): under
any single fault, every reading is scored within 30 s of the failed part being back or replaced.

Needs the test database on PostgreSQL, shared with the worker processes, which connect as the
application role as deployed (always so in CI); runs on the real Redis when REDIS_URL is set, else
on the embedded one. Outside CI a machine without PostgreSQL skips these; in CI
(VW_REQUIRE_SERVICES=true) they must run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.db import connection, connections, transaction

import scoring.tasks  # noqa: F401  (registers the shared tasks with every app)
from accounts.db_roles import role_database_url
from patients.models import Patient
from scoring.services import request_rescore
from tests.db_roles import db_roles  # noqa: F401  (a fixture)
from tests.factories import PatientFactory
from tests.faults.celery_processes import DatabaseLink, beat, worker
from tests.processes import LoggedProcess, needs, shared_database_url
from tests.scoring_services.builders import record

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]

AIM_SECONDS = 30.0
OUTAGE_SECONDS = 20.0


@pytest.fixture
def database(db: None, db_roles: dict | None) -> dict:  # noqa: F811
    """The test database, and the application role the workers connect as, as deployed."""
    needs(connection.vendor != "postgresql", "a worker process needs the test database on PostgreSQL")
    assert db_roles is not None
    return {**settings.DATABASES["default"], "APP_ROLE": db_roles["app"]}


def database_url(db: dict, *, port: int | None = None) -> str:
    url = shared_database_url(port=port)
    assert url is not None
    return role_database_url(url, db["APP_ROLE"])


def start(processes: list[LoggedProcess], process: LoggedProcess) -> LoggedProcess:
    processes.append(process.start())
    return process


def start_stack(processes, task_queue, tmp_path, database_url: str, **overrides: str) -> tuple[LoggedProcess, dict]:
    """Beat and one worker on both queues, configured as deployed (the project's settings, with
    any `overrides` of their environment)."""
    env = {"DATABASE_URL": database_url, "REDIS_URL": task_queue.url, "VW_PROMPT_QUEUE": task_queue.prompt_queue}
    env |= overrides
    start(processes, beat(env=env, log_dir=tmp_path))
    queues = [task_queue.prompt_queue, "celery"]
    first = start(processes, worker(env=env, queues=queues, log_dir=tmp_path, name="first"))
    first.wait_for_log(" ready.", timeout=30)
    return first, env


def alarming_pulse(patients) -> dict[int, int]:
    """A pulse of 131 for each patient, stored now: {patient id: its observation id}."""
    return {patient.pk: record(patient, heart_rate=131)[0].pk for patient in patients}


def ask_for_rescore(patients) -> None:
    """As ingest does: the request inside the batch transaction, sent when it commits."""
    with transaction.atomic():
        request_rescore([patient.pk for patient in patients])


def scored(expected: dict[int, int]) -> set[int]:
    """The patients whose current score was computed with their alarming pulse."""
    rows = Patient.objects.filter(pk__in=expected).values_list("pk", "current_score__sub_scores")
    return {pk for pk, subs in rows if ((subs or {}).get("heart_rate") or {}).get("observation_id") == expected[pk]}


def seconds_until_all_scored(expected: dict[int, int], *, since: float, log: LoggedProcess) -> float:
    deadline = since + AIM_SECONDS
    while (done := scored(expected)) != set(expected):
        if time.monotonic() > deadline:
            stranded = sorted(set(expected) - done)
            raise AssertionError(f"patients {stranded} unscored {AIM_SECONDS:.0f} s on:\n{log.log()[-4000:]}")
        time.sleep(0.2)
    return time.monotonic() - since


@contextmanager
def rows_locked(patients) -> Iterator[None]:
    """Another session holds the patients' rows, so a rescore of them waits mid-task on its lock."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(Patient.objects.select_for_update().filter(pk__in=[p.pk for p in patients]))
                held.set()
                release.wait(30)
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=hold, name="row-lock")
    thread.start()
    assert held.wait(10)
    try:
        yield
    finally:
        release.set()
        thread.join(10)


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def kill_mid_rescore(first: LoggedProcess, task_queue) -> dict[int, int]:
    """Kill -9 the worker while it is stuck in a rescore it has taken up, with another rescore
    waiting on the queue behind it; returns the readings both were to score."""
    taken, queued = PatientFactory.create_batch(5), PatientFactory.create_batch(5)
    expected = alarming_pulse(taken)
    with rows_locked(taken):
        # a rescore the worker has taken up (its patients moved off the waiting list) but is stuck
        # in, waiting for the rows another session holds
        ask_for_rescore(taken)
        wait_for(lambda: task_queue.client.keys("*taking*"), timeout=20, what="the worker to take the patients")
        # and more alarming readings, whose rescore rings again and waits on the queue
        expected |= alarming_pulse(queued)
        ask_for_rescore(queued)
        time.sleep(0.5)  # time enough for a worker that prefetches to reserve the waiting task
        first.kill()
    return expected


def kill_and_replace(first: LoggedProcess, env: dict, task_queue, processes, tmp_path) -> float:
    """Kill -9 the worker mid-rescore, start a replacement: seconds until every patient is scored."""
    expected = kill_mid_rescore(first, task_queue)
    replaced_at = time.monotonic()
    queues = [task_queue.prompt_queue, "celery"]
    second = start(processes, worker(env=env, queues=queues, log_dir=tmp_path, name="second"))
    return seconds_until_all_scored(expected, since=replaced_at, log=second)


def test_a_worker_killed_mid_rescore_strands_no_patient_past_30_s_after_its_replacement_starts(
    database, task_queue, processes, tmp_path
):
    # given beat and a worker running as deployed
    first, env = start_stack(processes, task_queue, tmp_path, database_url(database))
    # when the worker is killed with kill -9 in the middle of a rescore, and a replacement started,
    # then every patient is scored with their new pulse within 30 s of the replacement starting
    took = kill_and_replace(first, env, task_queue, processes, tmp_path)
    print(f"killed worker: every patient scored {took:.1f} s after the replacement started")


def test_a_killed_workers_task_comes_back_after_the_visibility_timeout(database, task_queue, processes, tmp_path):
    # given a stack whose broker gives unacknowledged tasks back after 15 s (countdowns shortened
    # to allow it) and whose sweep is switched off, so only the broker can bring the task back
    first, env = start_stack(
        processes,
        task_queue,
        tmp_path,
        database_url(database),
        VW_BROKER_VISIBILITY_SECONDS="15",
        VW_ROUTINE_RESCORE_SECONDS="1",
        VW_RESCORE_RETRY_MAX_SECONDS="1",
        VW_RESCORE_OVERDUE_SECONDS="3600",
    )
    # when the worker is killed mid-rescore and a replacement started, then the killed task is
    # delivered again and scores its patients (kombu's default would have kept it for an hour)
    took = kill_and_replace(first, env, task_queue, processes, tmp_path)
    print(f"killed worker, no sweep: its task came back and scored every patient {took:.1f} s after the replacement")


def test_a_20_s_database_outage_strands_no_patient_past_30_s_after_it_ends(database, task_queue, processes, tmp_path):
    # given beat and a worker that reaches the database through a link the test can cut, and has
    # connected through it (the sweep runs every 5 s)
    link = DatabaseLink(database["HOST"] or "127.0.0.1", int(database["PORT"] or 5432))
    link.restore()
    try:
        first, _ = start_stack(processes, task_queue, tmp_path, database_url(database, port=link.port))
        wait_for(lambda: link.connections > 0, timeout=15, what="the worker's first database connection")
        patients = PatientFactory.create_batch(8)
        # when the database becomes unreachable for the worker, and alarming readings (stored just
        # before, as far as the worker can tell) ask for their rescore
        link.cut()
        cut_at = time.monotonic()
        expected = alarming_pulse(patients)
        ask_for_rescore(patients)
        time.sleep(max(0.0, cut_at + OUTAGE_SECONDS - time.monotonic()))
        link.restore()
        restored_at = time.monotonic()
        # then the rescore met the outage and backed off, and every patient is scored within 30 s
        # of the database coming back: nobody is stranded by a retry that gave up
        took = seconds_until_all_scored(expected, since=restored_at, log=first)
        assert "Retry in" in first.log()
        print(f"database outage of {OUTAGE_SECONDS:.0f} s: every patient scored {took:.1f} s after it ended")
    finally:
        link.cut()
