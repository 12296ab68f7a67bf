"""Prompt and routine rescoring: abnormal readings at once on their own queue, stable ones folded later."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from patients.models import Patient
from scoring.models import EarlyWarningScore
from scoring.services import (
    _pending_key,
    _routine_key,
    request_rescore,
    request_rescore_after_readings,
    rescore_patients,
)
from scoring.tasks import rescore_patients as rescore_task
from scoring.tasks import rescore_waiting as waiting_task
from tests.scoring_services.builders import DeviceFactory, PatientFactory, record, record_set
from tests.scoring_services.conftest import start_prompt_task, start_routine_task, waiting_now

pytestmark = pytest.mark.django_db

NORMAL_PULSE = ("heart_rate", 72.0, "")
FAST_PULSE = ("heart_rate", 95.0, "")  # scores 1


@pytest.fixture
def sent(tasks_sent):
    return tasks_sent


@pytest.fixture(params=["local memory", "redis"])
def any_cache(request):
    """Each marking test runs on the in-process cache and on Redis (real under CI)."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
        yield
        return
    with override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}):
        cache.clear()
        yield


def prompt_waits(patient) -> bool:
    """A prompt rescore is on its way for the patient: its mark, or its place on Redis's list."""
    return bool(cache.get(_pending_key(patient.pk))) or patient.pk in waiting_now()


def routine_waits(patient) -> bool:
    """A routine rescore is on its way for the patient: its mark, or its place on Redis's list."""
    return bool(cache.get(_routine_key(patient.pk))) or patient.pk in waiting_now("routine")


def stable_patient() -> Patient:
    """A patient whose current score is low risk (a complete normal set, scored)."""
    patient = PatientFactory()
    record_set(patient, at=timezone.now() - dt.timedelta(minutes=10))
    rescore_patients([patient.pk])
    patient.refresh_from_db()
    assert patient.current_score.risk == "low"
    cache.clear()  # as if that task ran long ago
    return patient


def ingest(patient: Patient, readings, capture) -> None:
    """What ingest does: store a batch and hand scoring its readings, inside one transaction."""
    with capture(execute=True), transaction.atomic():
        request_rescore_after_readings(
            {patient.pk: readings},
            spo2_scales={patient.pk: patient.spo2_scale},
            current_risks={patient.pk: patient.current_score.risk if patient.current_score else None},
        )


PROMPT = {"countdown": None, "queue": "vw.prompt"}
ROUTINE = {"countdown": 30}


def test_a_burst_of_100_normal_readings_from_a_stable_patient_sends_one_routine_task(
    any_cache, sent, django_capture_on_commit_callbacks
):
    # given a stable patient
    patient = stable_patient()
    # when 100 normal readings arrive in ten batches
    for _ in range(10):
        ingest(patient, [NORMAL_PULSE] * 10, django_capture_on_commit_callbacks)
    # then exactly one task went out, to the default queue, after the routine countdown
    assert sent == [([patient.pk], ROUTINE)]


def test_an_abnormal_reading_is_sent_promptly_even_while_a_routine_task_waits(
    any_cache, sent, django_capture_on_commit_callbacks
):
    # given a stable patient whose routine task is waiting out its countdown
    patient = stable_patient()
    ingest(patient, [NORMAL_PULSE], django_capture_on_commit_callbacks)
    # when a reading that scores arrives, and another after it
    ingest(patient, [FAST_PULSE], django_capture_on_commit_callbacks)
    ingest(patient, [FAST_PULSE], django_capture_on_commit_callbacks)
    # then a prompt task went at once to the prompt queue, and only one while it waits
    assert sent == [([patient.pk], ROUTINE), ([patient.pk], PROMPT)]


def test_a_patient_with_no_score_yet_is_rescored_promptly(any_cache, sent, django_capture_on_commit_callbacks):
    # given a patient never scored
    patient = PatientFactory()
    # when perfectly normal readings arrive / then they are scored at once
    ingest(patient, [NORMAL_PULSE, ("consciousness", None, "A")], django_capture_on_commit_callbacks)
    assert sent == [([patient.pk], PROMPT)]


def test_once_the_tasks_start_the_next_readings_send_again(any_cache, sent, django_capture_on_commit_callbacks):
    # given a stable patient with a routine and a prompt task both waiting
    patient = stable_patient()
    ingest(patient, [NORMAL_PULSE], django_capture_on_commit_callbacks)
    ingest(patient, [FAST_PULSE], django_capture_on_commit_callbacks)
    assert prompt_waits(patient) and routine_waits(patient)
    # when workers start them
    start_prompt_task([patient.pk])
    start_routine_task([patient.pk])
    # then nothing waits, so readings committed after their reads send new tasks of either kind
    assert not prompt_waits(patient) and not routine_waits(patient)
    del sent[:]
    ingest(patient, [NORMAL_PULSE], django_capture_on_commit_callbacks)
    ingest(patient, [FAST_PULSE], django_capture_on_commit_callbacks)
    assert sent == [([patient.pk], ROUTINE), ([patient.pk], PROMPT)]


def test_the_ingest_convenience_splits_one_batch_into_one_prompt_and_one_routine_task(
    any_cache, sent, django_capture_on_commit_callbacks
):
    # given, in one batch: a calm patient, a low-risk one with a reading that scores, one above
    # low risk, one never scored and one whose scale ingest did not know
    calm, scoring_reading, watched, unknown_scale = (stable_patient() for _ in range(4))
    new_patient = PatientFactory()
    readings = {
        calm.pk: [NORMAL_PULSE, ("spo2", 97.0, ""), ("fall_detected", 1.0, "")],
        scoring_reading.pk: [NORMAL_PULSE, ("temperature", 38.1, "")],
        watched.pk: [NORMAL_PULSE],
        new_patient.pk: [NORMAL_PULSE],
        unknown_scale.pk: [NORMAL_PULSE],
    }
    risks = {calm.pk: "low", scoring_reading.pk: "low", watched.pk: "medium", unknown_scale.pk: "low"}
    scales = {pk: 1 for pk in readings if pk != unknown_scale.pk}
    # when one ingest batch hands them all over
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore_after_readings(readings, spo2_scales=scales, current_risks=risks)
    # then only the calm patient waits; everyone else goes in one prompt task
    prompt_ids = sorted([scoring_reading.pk, watched.pk, new_patient.pk, unknown_scale.pk])
    assert sent == [(prompt_ids, PROMPT), ([calm.pk], ROUTINE)]


def test_nothing_is_sent_and_no_mark_left_when_the_ingest_transaction_rolls_back(
    any_cache, sent, django_capture_on_commit_callbacks
):
    # given a stable patient
    patient = stable_patient()
    # when the batch fails after handing over its readings
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        request_rescore_after_readings(
            {patient.pk: [NORMAL_PULSE]}, spo2_scales={patient.pk: 1}, current_risks={patient.pk: "low"}
        )
        raise RuntimeError("ingest failed")
    # then no task went out and no mark is left behind
    assert sent == []
    assert not routine_waits(patient)


def test_a_broker_failure_on_a_routine_send_leaves_the_prompt_task_waiting(
    any_cache, sent, monkeypatch, django_capture_on_commit_callbacks
):
    # given a prompt task waiting, and a broker that then refuses a task
    patient = PatientFactory()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore([patient.pk])

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(rescore_task, "apply_async", refuse)
    monkeypatch.setattr(waiting_task, "apply_async", refuse)
    # when a routine request commits
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore([patient.pk], routine=True)
    # then the next routine reading tries again (test_waiting_list covers Redis's doorbell), and
    # the prompt task still waits
    assert cache.get(_routine_key(patient.pk)) is None
    assert prompt_waits(patient)


@override_settings(VW_ROUTINE_RESCORE_SECONDS=5, VW_PROMPT_QUEUE="ward-7.prompt")
def test_the_routine_countdown_and_the_prompt_queue_are_settings(sent, django_capture_on_commit_callbacks):
    # given a deployment with its own routine period and prompt queue name
    calm, unwell = PatientFactory.create_batch(2)
    # when one of each kind is requested
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore([calm.pk], routine=True)
        request_rescore([unwell.pk])
    # then each is sent as configured
    assert sent == [([calm.pk], {"countdown": 5}), ([unwell.pk], {"countdown": None, "queue": "ward-7.prompt"})]


def test_a_routine_task_that_finds_the_readings_already_scored_stores_nothing(sent, django_capture_on_commit_callbacks):
    # given a stable patient with a normal reading waiting routinely, then a scoring one sent promptly
    patient = stable_patient()
    device = DeviceFactory(patient=patient)
    record(patient, device=device, heart_rate=72)
    ingest(patient, [NORMAL_PULSE], django_capture_on_commit_callbacks)
    record(patient, device=device, at=timezone.now() + dt.timedelta(seconds=1), respiratory_rate=22)
    ingest(patient, [("respiratory_rate", 22.0, "")], django_capture_on_commit_callbacks)
    (routine_ids, _), (prompt_ids, _) = sent
    # when the prompt task runs first and the routine one after its countdown
    assert rescore_task.run(prompt_ids) == 1
    before = EarlyWarningScore.objects.filter(patient=patient).count()
    # then the routine task finds nothing changed and writes no row
    assert rescore_task.run(routine_ids) == 0
    assert EarlyWarningScore.objects.filter(patient=patient).count() == before


def test_without_a_broker_a_routine_request_is_scored_at_once(django_capture_on_commit_callbacks):
    # given eager tasks (no broker: tests, the demo load) and a stable patient with a new reading
    patient = stable_patient()
    record(patient, heart_rate=60)
    # when ingest requests a routine rescore
    ingest(patient, [("heart_rate", 60.0, "")], django_capture_on_commit_callbacks)
    # then Celery ignores the countdown in eager mode: the new score is stored already
    patient.refresh_from_db()
    assert patient.current_score.sub_scores["heart_rate"]["value"] == 60
    assert not routine_waits(patient)
