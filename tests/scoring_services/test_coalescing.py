import datetime as dt

import pytest
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from scoring.models import EarlyWarningScore
from scoring.services import request_rescore
from scoring.tasks import rescore_patients
from tests.scoring_services.builders import NORMAL, DeviceFactory, PatientFactory, record, record_set
from tests.scoring_services.conftest import start_prompt_task

pytestmark = pytest.mark.django_db


def ids_of(sent):
    """The patient ids of each rescore task recorded by ``tasks_sent``."""
    return [ids for ids, _ in sent]


def _ingest_batch(patient, device, start, count, capture):
    # What ingest does: store readings and request a rescore inside one transaction.
    with capture(execute=True), transaction.atomic():
        for i in range(count):
            record(patient, device=device, at=start + dt.timedelta(seconds=i), heart_rate=70 + i % 5)
        request_rescore([patient.pk])


def test_a_burst_of_100_readings_in_ten_batches_sends_one_task_while_it_waits(
    tasks_sent, django_capture_on_commit_callbacks
):
    # given a patient with a complete set and a worker that has not yet picked anything up
    patient = PatientFactory()
    device = DeviceFactory(patient=patient)
    start = timezone.now() - dt.timedelta(minutes=5)
    record_set(patient, at=start - dt.timedelta(minutes=1), device=device)
    # when 100 readings arrive in ten batches
    for batch in range(10):
        _ingest_batch(patient, device, start + dt.timedelta(seconds=10 * batch), 10, django_capture_on_commit_callbacks)
    # then one task was queued, and running it stores one score from the newest readings
    assert ids_of(tasks_sent) == [[patient.pk]]
    assert start_prompt_task(ids_of(tasks_sent)[0]) == 1
    assert EarlyWarningScore.objects.filter(patient=patient).count() == 1


def test_once_the_worker_has_started_a_new_reading_sends_a_new_task(tasks_sent, django_capture_on_commit_callbacks):
    # given a burst whose task has been picked up by a worker
    patient = PatientFactory()
    device = DeviceFactory(patient=patient)
    now = timezone.now()
    _ingest_batch(patient, device, now, 3, django_capture_on_commit_callbacks)
    start_prompt_task(ids_of(tasks_sent)[0])
    # when another reading arrives
    _ingest_batch(patient, device, now + dt.timedelta(seconds=30), 1, django_capture_on_commit_callbacks)
    # then it is not swallowed by the first task: a second task is queued
    assert ids_of(tasks_sent) == [[patient.pk], [patient.pk]]


def test_one_task_covers_every_patient_of_a_batch(tasks_sent, django_capture_on_commit_callbacks):
    # given three patients touched by one ingest batch
    patients = PatientFactory.create_batch(3)
    # when the batch commits
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore([p.pk for p in patients] + [patients[0].pk])
    # then a single task carries all three ids, once each
    assert ids_of(tasks_sent) == [sorted(p.pk for p in patients)]


def test_nothing_is_sent_when_the_ingest_transaction_rolls_back(tasks_sent, django_capture_on_commit_callbacks):
    # given a batch that fails after requesting a rescore
    patient = PatientFactory()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        request_rescore([patient.pk])
        raise RuntimeError("ingest failed")
    # then no task went out and no mark is left behind
    assert ids_of(tasks_sent) == []
    assert cache.get(f"vw:rescore:pending:{patient.pk}") is None


def test_a_burst_run_by_eager_workers_costs_at_most_one_recomputation_per_batch(django_capture_on_commit_callbacks):
    # given tasks running as soon as each batch commits (no broker)
    patient = PatientFactory()
    device = DeviceFactory(patient=patient)
    start = timezone.now() - dt.timedelta(minutes=5)
    # when 100 readings of a complete set arrive in 4 batches
    for batch in range(4):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            for i in range(25):
                at = start + dt.timedelta(seconds=batch * 25 + i)
                name = list(NORMAL)[i % len(NORMAL)]
                record(patient, device=device, at=at, **{name: NORMAL[name]})
            request_rescore([patient.pk])
    # then at most four scores were stored, not a hundred
    assert 1 <= EarlyWarningScore.objects.filter(patient=patient).count() <= 4


def test_a_broker_failure_does_not_break_ingest_and_clears_the_mark(monkeypatch, django_capture_on_commit_callbacks):
    # given a broker that refuses the task
    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(rescore_patients, "apply_async", refuse)
    patient = PatientFactory()
    # when ingest commits
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore([patient.pk])
    # then the mark is cleared so the next reading tries again
    assert cache.get(f"vw:rescore:pending:{patient.pk}") is None
