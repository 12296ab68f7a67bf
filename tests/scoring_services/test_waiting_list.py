"""Prompt rescoring on Redis: one waiting list and a doorbell, so a task carries everyone waiting."""

import pytest
from django.db import transaction

from scoring import services
from scoring.services import finish_waiting, request_rescore, take_waiting
from scoring.tasks import rescore_waiting
from tests.scoring_services.builders import PatientFactory, record_set
from tests.scoring_services.conftest import waiting_now

pytestmark = pytest.mark.django_db


def _request(patient_ids, capture):
    with capture(execute=True), transaction.atomic():
        request_rescore(patient_ids)


def test_patients_from_many_batches_wait_for_one_task_which_takes_them_all(
    redis_cache, tasks_sent, django_capture_on_commit_callbacks
):
    # given thirty patients whose readings arrive in ten ingest batches while no worker is free
    patients = [p.pk for p in PatientFactory.create_batch(30)]
    for start in range(0, 30, 3):
        _request(patients[start : start + 3], django_capture_on_commit_callbacks)
    # then one task went out, and when it starts it takes all thirty and silences the doorbell
    assert len(tasks_sent) == 1
    assert take_waiting("t1") == sorted(patients)
    assert waiting_now() == []
    # and a reading after that rings again
    _request([patients[0]], django_capture_on_commit_callbacks)
    assert len(tasks_sent) == 2 and tasks_sent[1][0] == [patients[0]]


def test_a_task_that_fails_keeps_its_patients_for_its_retry(
    redis_cache, tasks_sent, django_capture_on_commit_callbacks
):
    # given two patients taken by a task that then fails (the worker died, the database went away)
    patients = [p.pk for p in PatientFactory.create_batch(2)]
    _request(patients, django_capture_on_commit_callbacks)
    assert take_waiting("t1") == sorted(patients)
    # and a third patient waiting since
    third = PatientFactory().pk
    _request([third], django_capture_on_commit_callbacks)
    # when Celery delivers the same task again, then it takes its own two back, and the third
    assert take_waiting("t1") == sorted([*patients, third])
    # and once it finishes, nothing is left over for anyone
    finish_waiting("t1")
    assert take_waiting("t2") == []


def test_a_broker_refusing_the_task_leaves_the_patients_waiting_for_the_next_ring(
    redis_cache, monkeypatch, django_capture_on_commit_callbacks
):
    # given a broker that refuses the first task and accepts the next
    sent = []

    def refuse_once(**kwargs):
        if not sent:
            sent.append("refused")
            raise ConnectionError("broker down")
        sent.append(kwargs)

    monkeypatch.setattr(rescore_waiting, "apply_async", refuse_once)
    first, second = (p.pk for p in PatientFactory.create_batch(2))
    # when a request fails to send, and another comes
    _request([first], django_capture_on_commit_callbacks)
    _request([second], django_capture_on_commit_callbacks)
    # then the second ring sent a task, and it will take both patients
    assert len(sent) == 2 and sent[1]["queue"] == "vw.prompt"
    assert take_waiting("t1") == sorted([first, second])


def test_the_waiting_task_scores_everyone_it_takes(redis_cache, tasks_sent, django_capture_on_commit_callbacks):
    # given three patients with readings, waiting
    patients = PatientFactory.create_batch(3)
    for patient in patients:
        record_set(patient)
    _request([p.pk for p in patients], django_capture_on_commit_callbacks)
    # when the task runs / then each has a score and nothing waits
    assert rescore_waiting.apply(task_id="t9").get() == 3
    assert all(p.current_score_id for p in (type(p).objects.get(pk=p.pk) for p in patients))
    assert services.take_waiting("t9") == []
