"""Rescoring on Redis: one waiting list and a doorbell per kind, so a task carries everyone waiting."""

import pytest
import redis
from django.db import transaction

from scoring import services
from scoring.services import _doorbell_key, finish_waiting, request_rescore, take_waiting
from scoring.tasks import rescore_waiting
from tests.scoring_services.builders import PatientFactory, record_set
from tests.scoring_services.conftest import waiting_now

pytestmark = pytest.mark.django_db

PROMPT = {"countdown": None, "queue": "vw.prompt"}
ROUTINE = {"countdown": 30}  # the default queue, after VW_ROUTINE_RESCORE_SECONDS

# Each behaviour holds for both kinds: (kind, whether request_rescore asks for a routine rescore).
KINDS = pytest.mark.parametrize(("kind", "routine"), [("prompt", False), ("routine", True)], ids=["prompt", "routine"])


def _request(patient_ids, capture, *, routine=False):
    with capture(execute=True), transaction.atomic():
        request_rescore(patient_ids, routine=routine)


@KINDS
def test_patients_from_many_batches_wait_for_one_task_which_takes_them_all(
    kind, routine, redis_cache, tasks_sent, django_capture_on_commit_callbacks
):
    # given thirty patients whose readings arrive in ten ingest batches while no worker is free
    patients = [p.pk for p in PatientFactory.create_batch(30)]
    for start in range(0, 30, 3):
        _request(patients[start : start + 3], django_capture_on_commit_callbacks, routine=routine)
    # then one task went out, sent as its kind is, and when it starts it takes all thirty and
    # silences the doorbell
    assert [options for _, options in tasks_sent] == [ROUTINE if routine else PROMPT]
    assert take_waiting("t1", kind) == sorted(patients)
    assert waiting_now(kind) == []
    # and a reading after that rings again
    _request([patients[0]], django_capture_on_commit_callbacks, routine=routine)
    assert len(tasks_sent) == 2 and tasks_sent[1][0] == [patients[0]]


@KINDS
def test_a_task_that_fails_keeps_its_patients_for_its_retry(
    kind, routine, redis_cache, tasks_sent, django_capture_on_commit_callbacks
):
    # given two patients taken by a task that then fails (the worker died, the database went away)
    patients = [p.pk for p in PatientFactory.create_batch(2)]
    _request(patients, django_capture_on_commit_callbacks, routine=routine)
    assert take_waiting("t1", kind) == sorted(patients)
    # and a third patient waiting since
    third = PatientFactory().pk
    _request([third], django_capture_on_commit_callbacks, routine=routine)
    # when Celery delivers the same task again, then it takes its own two back, and the third
    assert take_waiting("t1", kind) == sorted([*patients, third])
    # and once it finishes, nothing is left over for anyone
    finish_waiting("t1", kind)
    assert take_waiting("t2", kind) == []


@KINDS
def test_a_broker_refusing_the_task_leaves_the_patients_waiting_for_the_next_ring(
    kind, routine, redis_cache, monkeypatch, django_capture_on_commit_callbacks
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
    _request([first], django_capture_on_commit_callbacks, routine=routine)
    _request([second], django_capture_on_commit_callbacks, routine=routine)
    # then the second ring sent a task of its kind, and it will take both patients
    assert len(sent) == 2 and sent[1] == {"kwargs": {"kind": kind}, **(ROUTINE if routine else PROMPT)}
    assert take_waiting("t1", kind) == sorted([first, second])


@KINDS
def test_a_lost_task_holds_the_doorbell_only_until_it_expires_then_the_next_request_sends_again(
    kind, routine, redis_cache, redis_url, tasks_sent, django_capture_on_commit_callbacks
):
    # given a task sent for a patient and then lost (never delivered), and a second patient waiting
    first, second = (p.pk for p in PatientFactory.create_batch(2))
    _request([first], django_capture_on_commit_callbacks, routine=routine)
    _request([second], django_capture_on_commit_callbacks, routine=routine)
    assert len(tasks_sent) == 1
    # when the doorbell expires, as Redis does once its time to live (checked in test_batching) is up
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.ttl(_doorbell_key(kind)) > 0
        client.delete(_doorbell_key(kind))
    finally:
        client.close()
    third = PatientFactory().pk
    _request([third], django_capture_on_commit_callbacks, routine=routine)
    # then the next request sent a new task, which takes everyone the lost one left waiting
    assert len(tasks_sent) == 2
    assert take_waiting("t2", kind) == sorted([first, second, third])


def test_a_prompt_request_for_a_patient_waiting_routinely_is_sent_at_once_and_taken_on_its_own(
    redis_cache, tasks_sent, django_capture_on_commit_callbacks
):
    # given a patient and another waiting for a routine rescore, its task counting down
    patient, other = (p.pk for p in PatientFactory.create_batch(2))
    _request([patient, other], django_capture_on_commit_callbacks, routine=True)
    # when a reading of the first needs a prompt rescore
    _request([patient], django_capture_on_commit_callbacks)
    # then a prompt task went out at once, for that patient alone
    assert tasks_sent == [([patient, other], ROUTINE), ([patient], PROMPT)]
    assert take_waiting("prompt-task", "prompt") == [patient]
    # and the routine task still takes both when its countdown is up, whichever starts first
    assert take_waiting("routine-task", "routine") == sorted([patient, other])
    # and each doorbell is silenced by its own task only: a routine request now rings again
    _request([other], django_capture_on_commit_callbacks, routine=True)
    assert tasks_sent[-1] == ([other], ROUTINE)


def test_a_routine_task_taking_its_patients_leaves_the_prompt_ones_waiting(
    redis_cache, tasks_sent, django_capture_on_commit_callbacks
):
    # given a patient waiting for each kind of rescore
    calm, unwell = (p.pk for p in PatientFactory.create_batch(2))
    _request([calm], django_capture_on_commit_callbacks, routine=True)
    _request([unwell], django_capture_on_commit_callbacks)
    # when the routine task starts / then it takes only its own, and the prompt task's stay
    assert take_waiting("routine-task", "routine") == [calm]
    assert waiting_now("prompt") == [unwell]
    # and a prompt request still finds its doorbell ringing: no second prompt task
    _request([calm], django_capture_on_commit_callbacks)
    assert [options for _, options in tasks_sent] == [ROUTINE, PROMPT]


@KINDS
def test_the_waiting_task_scores_everyone_it_takes(
    kind, routine, redis_cache, tasks_sent, django_capture_on_commit_callbacks
):
    # given three patients with readings, waiting
    patients = PatientFactory.create_batch(3)
    for patient in patients:
        record_set(patient)
    _request([p.pk for p in patients], django_capture_on_commit_callbacks, routine=routine)
    # when the task runs / then each has a score and nothing waits
    assert rescore_waiting.apply(kwargs={"kind": kind}, task_id="t9").get() == 3
    assert all(p.current_score_id for p in (type(p).objects.get(pk=p.pk) for p in patients))
    assert services.take_waiting("t9", kind) == []
    assert waiting_now(kind) == []


def test_a_waiting_list_of_an_unknown_kind_is_refused():
    # given a task message naming a kind that does not exist / then it fails loudly
    with pytest.raises(ValueError, match="unknown rescore kind 'urgent'"):
        take_waiting("t1", "urgent")
