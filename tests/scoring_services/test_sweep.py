"""The safety-net sweep: it finds exactly the patients whose score is behind a reading received more
than VW_RESCORE_OVERDUE_SECONDS (15 s) ago, and sends their rescore past any doorbell."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone

from patients.models import Observation, Patient
from scoring.models import EarlyWarningScore
from scoring.services import (
    _redis_client,
    _routine_tasks_key,
    _taking_key,
    _waiting_key,
    finish_waiting,
    request_rescore,
    rescore_patients,
    take_waiting,
    waiting_routinely,
)
from scoring.sweep import sweep_unscored
from tests.scoring_services.builders import PatientFactory, record, record_set
from tests.scoring_services.conftest import start_prompt_task

pytestmark = pytest.mark.django_db

NOW = timezone.now()
BOUND = dt.timedelta(seconds=15)


def received(observations, at):
    Observation.objects.filter(pk__in=[o.pk for o in observations]).update(received_at=at)
    return observations


def scored_patient(**kwargs):
    """A patient with a complete set measured and received ten minutes ago, scored nine minutes ago."""
    patient = PatientFactory(**kwargs)
    received(record_set(patient, at=NOW - dt.timedelta(minutes=10)), NOW - dt.timedelta(minutes=10))
    rescore_patients([patient.pk], now=NOW - dt.timedelta(minutes=9))
    return patient


def new_reading(patient, *, waited: dt.timedelta, measured_before: dt.timedelta = dt.timedelta(0), **values):
    """A reading stored `waited` before NOW and not scored since (its rescore was lost)."""
    return received(record(patient, at=NOW - waited - measured_before, **values), NOW - waited)


def requested_20_s_ago(capture_on_commit, patients, *, routine: bool, **values) -> None:
    """Each patient's new reading, stored 20 s ago, and their rescore requested as ingest does."""
    for patient in patients:
        new_reading(patient, waited=dt.timedelta(seconds=20), **values)
    with capture_on_commit(execute=True), transaction.atomic():
        request_rescore([patient.pk for patient in patients], routine=routine)


def test_the_sweep_finds_exactly_the_patients_with_a_reading_unscored_past_the_bound(tasks_sent):
    # given a patient whose pulse has waited 20 s unscored, and one never scored at all
    waited = scored_patient()
    new_reading(waited, waited=dt.timedelta(seconds=20), heart_rate=131)
    never_scored = PatientFactory()
    new_reading(never_scored, waited=dt.timedelta(seconds=40), spo2=90)
    # and patients who are not overdue: a reading 5 s old, a score that used its newest
    # reading, a discharged patient, a reading of no NEWS2 parameter, an unreadable one
    recent = scored_patient()
    new_reading(recent, waited=dt.timedelta(seconds=5), heart_rate=131)
    up_to_date = scored_patient()
    discharged = scored_patient(discharged_at=NOW - dt.timedelta(minutes=1))
    new_reading(discharged, waited=dt.timedelta(minutes=1), heart_rate=131)
    weighed = scored_patient()
    new_reading(weighed, waited=dt.timedelta(minutes=1), weight=71.5)
    unreadable = scored_patient()
    new_reading(unreadable, waited=dt.timedelta(minutes=1), on_oxygen=0.5)
    # when the sweep runs
    swept = sweep_unscored(now=NOW)
    # then it sends one prompt rescore of exactly the two overdue patients
    assert swept == sorted([waited.pk, never_scored.pk])
    assert [ids for ids, _ in tasks_sent] == [swept]
    assert up_to_date.pk not in swept and recent.pk not in swept


@pytest.mark.parametrize(
    ("waited", "overdue"),
    [
        (BOUND - dt.timedelta(milliseconds=1), False),
        (BOUND, True),
        (BOUND + dt.timedelta(milliseconds=1), True),
    ],
    ids=["just-inside-the-bound", "at-the-bound", "just-past-the-bound"],
)
def test_a_reading_is_overdue_once_it_has_waited_the_bound(waited, overdue, tasks_sent):
    # given a patient whose new SpO2 has waited just under, exactly, or just over 15 s
    patient = scored_patient()
    new_reading(patient, waited=waited, spo2=91)
    # when the sweep runs, then only a reading that waited the bound or longer is swept
    assert sweep_unscored(now=NOW) == ([patient.pk] if overdue else [])


def test_the_bound_is_a_setting(settings, tasks_sent):
    # given a patient whose reading waited 20 s, and the bound raised to 30 s
    settings.VW_RESCORE_OVERDUE_SECONDS = 30
    patient = scored_patient()
    new_reading(patient, waited=dt.timedelta(seconds=20), heart_rate=131)
    # then it is not swept until it has waited 30 s
    assert sweep_unscored(now=NOW) == []
    assert sweep_unscored(now=NOW + dt.timedelta(seconds=10)) == [patient.pk]


def test_a_reading_older_than_its_freshness_window_on_arrival_is_not_chased(tasks_sent):
    # given a patient scored without SpO2, then a store-and-forward SpO2 measured two hours ago
    patient = PatientFactory()
    received(record_set(patient, at=NOW - dt.timedelta(minutes=10), spo2=None), NOW - dt.timedelta(minutes=10))
    rescore_patients([patient.pk], now=NOW - dt.timedelta(minutes=9))
    new_reading(patient, waited=dt.timedelta(minutes=1), measured_before=dt.timedelta(hours=2), spo2=84)
    # then the sweep leaves it: scoring would not use it as current, so the total cannot change
    assert sweep_unscored(now=NOW) == []


def test_a_patient_whose_spo2_scale_changed_after_their_score_is_overdue(tasks_sent):
    # given a scored patient put on Scale 2 by a clinician 20 s ago, whose rescore was lost
    patient = scored_patient()
    Patient.objects.filter(pk=patient.pk).update(spo2_scale=2, spo2_scale_set_at=NOW - dt.timedelta(seconds=20))
    # then the sweep sends their rescore, and not for a change made 5 s ago
    assert sweep_unscored(now=NOW) == [patient.pk]
    Patient.objects.filter(pk=patient.pk).update(spo2_scale_set_at=NOW - dt.timedelta(seconds=5))
    assert sweep_unscored(now=NOW) == []


def test_a_patient_waiting_routinely_is_overdue_only_the_bound_after_the_routine_countdown(
    settings, tasks_sent, django_capture_on_commit_callbacks
):
    # given a stable patient whose normal pulse joined the routine list (30 s countdown) 20 s ago
    patient = scored_patient()
    requested_20_s_ago(django_capture_on_commit_callbacks, [patient], routine=True, heart_rate=70)
    tasks_sent.clear()
    # then the sweep leaves it while the countdown runs, and sends it 15 s after the countdown
    assert sweep_unscored(now=NOW) == []
    assert sweep_unscored(now=NOW + dt.timedelta(seconds=24)) == []
    assert sweep_unscored(now=NOW + dt.timedelta(seconds=25)) == [patient.pk]


def test_a_sweep_sends_at_most_a_batch_the_longest_waiting_first(settings, tasks_sent):
    # given three overdue patients and a batch of two
    settings.VW_RESCORE_SWEEP_BATCH = 2
    patients = [scored_patient() for _ in range(3)]
    for patient, seconds in zip(patients, (20, 60, 40), strict=True):
        new_reading(patient, waited=dt.timedelta(seconds=seconds), heart_rate=131)
    # then this sweep sends the two that waited longest, and the next one the third
    assert sweep_unscored(now=NOW) == sorted([patients[1].pk, patients[2].pk])


def test_the_swept_rescore_goes_to_the_prompt_queue_and_expires_with_the_next_sweep(settings, tasks_sent):
    patient = scored_patient()
    new_reading(patient, waited=dt.timedelta(seconds=20), heart_rate=131)
    sweep_unscored(now=NOW)
    (_, options) = tasks_sent[0]
    assert options["queue"] == settings.VW_PROMPT_QUEUE
    assert 0 < options["expires"] <= settings.VW_RESCORE_SWEEP_SECONDS + settings.VW_RESCORE_OVERDUE_SECONDS


def test_the_sweep_costs_the_same_few_queries_for_one_patient_or_many(django_assert_max_num_queries, tasks_sent):
    # given twelve overdue patients
    for _ in range(12):
        new_reading(scored_patient(), waited=dt.timedelta(seconds=20), heart_rate=131)
    # then one sweep reads them in four queries at most: candidates, their scores, newest readings
    with django_assert_max_num_queries(4):
        assert len(sweep_unscored(now=NOW)) == 12


def test_a_swept_patient_is_scored_once_even_if_their_own_task_runs_too():
    # given a patient whose alarming pulse waited 20 s (tasks run in-process here)
    patient = scored_patient()
    new_reading(patient, waited=dt.timedelta(seconds=20), heart_rate=131)
    before = EarlyWarningScore.objects.filter(patient=patient).count()
    # when the sweep rescores them and then their own delayed task runs as well
    assert sweep_unscored(now=NOW) == [patient.pk]
    start_prompt_task([patient.pk])
    # then one new score is stored, with the pulse, and the next sweep finds nothing to do
    assert EarlyWarningScore.objects.filter(patient=patient).count() == before + 1
    assert Patient.objects.get(pk=patient.pk).current_score.sub_scores["heart_rate"]["value"] == 131
    assert sweep_unscored(now=timezone.now() + dt.timedelta(minutes=1)) == []


def test_patients_taken_by_a_task_whose_worker_died_are_swept(
    redis_cache, tasks_sent, django_capture_on_commit_callbacks
):
    # given patients requested promptly and taken by a task whose worker was then killed
    patients = [scored_patient() for _ in range(3)]
    requested_20_s_ago(django_capture_on_commit_callbacks, patients, routine=False, spo2=88)
    assert take_waiting("killed-task") == sorted(p.pk for p in patients)
    tasks_sent.clear()
    # when the sweep runs (nothing will ring for them: they are no longer waiting)
    swept = sweep_unscored(now=NOW)
    # then all three are sent for rescoring
    assert swept == sorted(p.pk for p in patients)


def test_patients_a_running_routine_task_took_are_still_routine_to_the_sweep(
    redis_cache, tasks_sent, django_capture_on_commit_callbacks
):
    # given a stable patient whose routine task has taken them and is scoring them now
    patient = scored_patient()
    requested_20_s_ago(django_capture_on_commit_callbacks, [patient], routine=True, heart_rate=70)
    assert take_waiting("routine-task", "routine") == [patient.pk]
    # then the sweep does not send them to the prompt queue as well, until the routine bound passes
    assert sweep_unscored(now=NOW) == []
    assert sweep_unscored(now=NOW + dt.timedelta(seconds=25)) == [patient.pk]
    # and once the task is done it no longer counts them routine
    finish_waiting("routine-task", "routine")
    assert waiting_routinely([patient.pk]) == set()


def test_a_killed_routine_tasks_entry_is_dropped_once_its_patients_key_expires(redis_cache):
    # given a routine task that took a patient and was killed, its list since expired
    client = _redis_client()
    client.sadd(_waiting_key("routine"), 41)
    take_waiting("killed-routine-task", "routine")
    client.delete(_taking_key("killed-routine-task", "routine"))
    # then the patient is no longer routine, and the task's entry is gone
    assert waiting_routinely([41]) == set()
    assert not client.smembers(_routine_tasks_key())
