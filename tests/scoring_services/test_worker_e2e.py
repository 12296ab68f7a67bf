"""End to end on real Celery workers: ingest's rescore request → broker → worker → score and alert.

Each test runs only the worker its kind of request must reach (prompt or default queue), as
deployed, so a task sent to the wrong queue is never scored and the test fails.

Runs against the real Redis when REDIS_URL is set (always in CI), else the embedded one.
"""

import datetime as dt
import time
import uuid
from contextlib import contextmanager

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.db import connection, transaction
from django.utils import timezone

import scoring.tasks  # noqa: F401  (registers the shared task with every app)
from alerts.models import Alert, AlertKind
from patients.models import Patient
from scoring.models import EarlyWarningScore
from scoring.services import request_rescore, request_rescore_after_readings, rescore_patients
from tests.scoring_services.builders import PatientFactory, record, record_set
from virtualward.celery import app as project_app

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite", reason="a worker thread needs a database server, not in-memory SQLite"
    ),
]


@pytest.fixture
def queues(settings):
    """Queues of our own, so no other test run's leftovers (or other engineers') reach our workers."""
    default = f"vw-e2e-{uuid.uuid4().hex[:8]}"
    settings.VW_PROMPT_QUEUE = f"{default}.prompt"
    settings.VW_ROUTINE_RESCORE_SECONDS = 1
    return {"default": default, "prompt": settings.VW_PROMPT_QUEUE}


@contextmanager
def running_worker(redis_url, default_queue, consumes):
    """A real worker on the broker, consuming only `consumes`, as each deployed worker does."""
    app = Celery("vw-e2e", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        broker_url=redis_url,
        task_always_eager=False,
        task_default_queue=default_queue,
        worker_hijack_root_logger=False,
    )
    app.set_current()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10, queues=[consumes]):
            yield app
    finally:
        project_app.set_current()


@pytest.fixture
def prompt_worker(redis_url, eager_tasks, queues):
    with running_worker(redis_url, queues["default"], consumes=queues["prompt"]) as app:
        yield app


@pytest.fixture
def default_worker(redis_url, eager_tasks, queues):
    with running_worker(redis_url, queues["default"], consumes=queues["default"]) as app:
        yield app


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_requested_rescore_runs_on_the_prompt_worker_and_raises_the_alert(prompt_worker):
    # given a patient whose new readings put them in the high band, and only the prompt worker
    patient = PatientFactory()
    with transaction.atomic():
        record_set(patient, heart_rate=115, respiratory_rate=22, temperature=39.5, systolic_bp=105)
        # when ingest requests a rescore inside its transaction and commits
        request_rescore([patient.pk])
    # then that worker stores the score and raises a high NEWS2 alert
    assert _wait_for(lambda: Alert.objects.filter(patient=patient, kind=AlertKind.NEWS2_RISK).exists())
    score = EarlyWarningScore.objects.get(patient=patient)
    assert (score.total, score.risk, score.complete) == (7, "high", True)
    assert Alert.objects.get(patient=patient, kind=AlertKind.NEWS2_RISK).score_id == score.pk


def test_a_stable_patients_normal_readings_are_scored_by_the_default_worker_after_the_countdown(default_worker):
    # given a patient at low risk, and only the default-queue worker running
    patient = PatientFactory()
    record_set(patient, at=timezone.now() - dt.timedelta(minutes=5))
    rescore_patients([patient.pk])
    first = Patient.objects.get(pk=patient.pk).current_score_id
    # when a normal pulse arrives through ingest's door
    sent_at = time.monotonic()
    with transaction.atomic():
        record(patient, heart_rate=64)
        request_rescore_after_readings(
            {patient.pk: [("heart_rate", 64.0, "")]}, spo2_scales={patient.pk: 1}, current_risks={patient.pk: "low"}
        )
    # then that worker scores it, but not before the routine countdown (1 s here)
    assert _wait_for(lambda: Patient.objects.get(pk=patient.pk).current_score_id != first)
    assert time.monotonic() - sent_at >= 1
    assert Patient.objects.get(pk=patient.pk).current_score.sub_scores["heart_rate"]["value"] == 64
