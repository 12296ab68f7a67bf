"""End to end on a real Celery worker: ingest's request_rescore → broker → worker → score and alert.

Runs against the real Redis when REDIS_URL is set (always in CI), else the embedded one.
"""

import time
import uuid

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.db import connection, transaction

import scoring.tasks  # noqa: F401  (registers the shared task with every app)
from alerts.models import Alert, AlertKind
from scoring.models import EarlyWarningScore
from scoring.services import request_rescore
from tests.scoring_services.builders import PatientFactory, record_set
from virtualward.celery import app as project_app

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite", reason="a worker thread needs a database server, not in-memory SQLite"
    ),
]


@pytest.fixture
def worker_app(redis_url, eager_tasks):
    # A queue of our own, so no other test run's leftovers (or other engineers') reach this worker.
    app = Celery("vw-e2e", set_as_current=False)
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        broker_url=redis_url,
        task_always_eager=False,
        task_default_queue=f"vw-e2e-{uuid.uuid4().hex[:8]}",
        worker_hijack_root_logger=False,
    )
    app.set_current()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            yield app
    finally:
        project_app.set_current()


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_requested_rescore_runs_on_a_worker_and_raises_the_alert(worker_app):
    # given a patient whose new readings put them in the high band
    patient = PatientFactory()
    with transaction.atomic():
        record_set(patient, heart_rate=115, respiratory_rate=22, temperature=39.5, systolic_bp=105)
        # when ingest requests a rescore inside its transaction and commits
        request_rescore([patient.pk])
    # then a worker stores the score and raises a high NEWS2 alert
    assert _wait_for(lambda: Alert.objects.filter(patient=patient, kind=AlertKind.NEWS2_RISK).exists())
    score = EarlyWarningScore.objects.get(patient=patient)
    assert (score.total, score.risk, score.complete) == (7, "high", True)
    assert Alert.objects.get(patient=patient, kind=AlertKind.NEWS2_RISK).score_id == score.pk
