"""Rescoring outlasts a database outage: exponential back-off with jitter, capped, never giving up;
and the broker settings that bring a killed worker's tasks back."""

import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from patients.models import Patient
from scoring import services
from scoring.services import request_rescore
from scoring.tasks import rescore_patients as rescore_task
from scoring.tasks import rescore_waiting as waiting_task
from scoring.tasks import sweep_unscored as sweep_task
from tests.scoring_services.builders import PatientFactory, record_set
from virtualward.celery import app as celery_app

pytestmark = pytest.mark.django_db


def failing_first(monkeypatch, times: int, error: type[Exception] = OperationalError) -> list[int]:
    """services.rescore_patients raises `error` its first `times` calls, as a database that is down."""
    calls = []
    real = services.rescore_patients

    def flaky(patient_ids, **kwargs):
        calls.append(1)
        if len(calls) <= times:
            raise error("connection to server at 127.0.0.1 failed: Connection refused")
        return real(patient_ids, **kwargs)

    monkeypatch.setattr(services, "rescore_patients", flaky)
    return calls


@pytest.fixture
def countdowns(monkeypatch):
    """The back-off Celery chose for each retry (tasks run in-process, so the wait itself is skipped).

    In-process tasks retry in-process only when their exceptions are not propagated straight
    to the caller, as a worker would not propagate them either.
    """
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False
    chosen: list[float] = []
    for task in (rescore_task, waiting_task):
        real_retry = task.retry

        def recording_retry(*args, _real=real_retry, **kwargs):
            chosen.append(kwargs.get("countdown"))
            return _real(*args, **kwargs)

        monkeypatch.setattr(task, "retry", recording_retry)
    yield chosen
    celery_app.conf.task_eager_propagates = propagates


@pytest.mark.parametrize("error", [OperationalError, InterfaceError], ids=["operational", "interface"])
def test_a_rescore_keeps_retrying_through_a_long_outage_and_then_scores(monkeypatch, countdowns, error):
    # given a patient with readings, and a database that fails the next 30 rescores (the first
    # version gave up after 5, stranding the patient)
    patient = PatientFactory()
    record_set(patient, heart_rate=131)
    calls = failing_first(monkeypatch, 30, error)
    # when their rescore is sent
    created = rescore_task.delay([patient.pk]).get()
    # then it retried through every failure and stored the score
    assert len(calls) == 31 and len(countdowns) == 30
    assert created == 1
    assert Patient.objects.get(pk=patient.pk).current_score.sub_scores["heart_rate"]["value"] == 131


def test_the_waiting_list_task_keeps_the_patients_it_took_through_its_retries(
    monkeypatch, countdowns, redis_cache, django_capture_on_commit_callbacks
):
    # given a patient whose alarming SpO2 is requested on Redis's waiting list, and a database
    # that fails the task's first ten tries
    patient = PatientFactory()
    record_set(patient, spo2=88)
    failing_first(monkeypatch, 10)
    # when the request commits and its task runs (in-process here)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore([patient.pk])
    # then every retry took the same patients again, and the last one scored them
    assert len(countdowns) == 10
    assert Patient.objects.get(pk=patient.pk).current_score.sub_scores["spo2"]["value"] == 88
    assert not services._redis_client().keys("*taking*")


def test_back_off_grows_exponentially_with_jitter_and_is_capped(monkeypatch, countdowns):
    # given a database that fails forty times
    patient = PatientFactory()
    record_set(patient)
    failing_first(monkeypatch, 40)
    rescore_task.delay([patient.pk]).get()
    cap = settings.VW_RESCORE_RETRY_MAX_SECONDS
    # then each wait is at most 2^n seconds and never above the cap, so scoring resumes at most
    # `cap` seconds after the database is back
    assert all(0 <= wait <= min(cap, 2**n) for n, wait in enumerate(countdowns))
    # and the waits are spread (full jitter), so workers that failed together do not return together
    assert len(set(countdowns[5:])) > 5


def test_an_error_retrying_cannot_mend_is_not_retried(monkeypatch, countdowns):
    # given a rescore that fails with a programming error
    patient = PatientFactory()
    record_set(patient)
    failing_first(monkeypatch, 1, ValueError)
    # then it fails at once (the sweep, not a retry loop, finds the patient again)
    with pytest.raises(ValueError):
        rescore_task.delay([patient.pk]).get()
    assert countdowns == []


def test_the_sweep_task_skips_a_run_while_the_database_is_down(monkeypatch, caplog):
    from scoring import sweep

    def down(**kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(sweep, "sweep_unscored", down)
    assert sweep_task.delay().get() == 0
    assert "database is unavailable" in caplog.text


def test_tasks_are_acknowledged_late_and_one_is_reserved_per_process():
    assert settings.CELERY_TASK_ACKS_LATE and settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1


def test_the_visibility_timeout_outlasts_every_countdown_but_not_an_hour():
    # A countdown task is held unacked until it runs: a timeout shorter than the longest
    # countdown would deliver it twice. Kombu's default (an hour) stranded a killed worker's tasks.
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    longest = max(
        settings.VW_ROUTINE_RESCORE_SECONDS, settings.VW_RESCORE_DELAY_SECONDS, settings.VW_RESCORE_RETRY_MAX_SECONDS
    )
    assert longest + 10 < options["visibility_timeout"] <= 300
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 10


def test_beat_runs_the_sweep_every_few_seconds():
    entry = settings.CELERY_BEAT_SCHEDULE["rescore-sweep"]
    assert entry["task"] == "scoring.tasks.sweep_unscored"
    assert entry["schedule"] <= 10
