"""The cheap paths of rescoring: a batch in one Redis round trip, no countdown, a task's patients batched."""

import pytest
import redis
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from scoring.models import EarlyWarningScore
from scoring.services import _doorbell_key, _mark_pending, _pending_key, _waiting_key, request_rescore, rescore_patients
from tests.scoring_services.builders import PatientFactory, record_set
from tests.scoring_services.conftest import waiting_now

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("routine", [False, True], ids=["prompt", "routine"])
def test_a_batch_on_redis_joins_its_waiting_list_in_one_round_trip_with_no_key_per_patient(
    routine, redis_cache, redis_url, tasks_sent, round_trips, django_capture_on_commit_callbacks
):
    # given patient 2 already waiting, its task sent
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore([2], routine=routine)
    round_trips.update(pipelines=0, single_sets=0)
    # when a batch of five patients is requested
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore([1, 2, 3, 4, 5], routine=routine)
    # then it took one pipelined round trip, sent no second task, and all five wait for the first
    assert round_trips == {"pipelines": 1, "single_sets": 0}
    assert len(tasks_sent) == 1
    kind = "routine" if routine else "prompt"
    assert waiting_now(kind) == [1, 2, 3, 4, 5]
    # and Redis holds that kind's waiting set and doorbell, no key per patient
    client = redis.Redis.from_url(redis_url)
    try:
        keys = {key.decode() for key in client.keys("*vw:rescore*")}
    finally:
        client.close()
    assert keys == {_waiting_key(kind), _doorbell_key(kind)}


@pytest.mark.parametrize(("routine", "countdown"), [(False, 0), (True, 30)], ids=["prompt", "routine"])
def test_a_doorbell_outlasts_its_tasks_countdown_by_at_most_ten_seconds(
    routine, countdown, redis_cache, redis_url, tasks_sent, django_capture_on_commit_callbacks
):
    # given a request that rang its doorbell
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore([7], routine=routine)
    # when the doorbell's time to live is read straight from Redis
    client = redis.Redis.from_url(redis_url)
    try:
        ttl = client.ttl(_doorbell_key("routine" if routine else "prompt"))
    finally:
        client.close()
    # then it rings through the task's countdown, and a lost task silences requests for at most
    # the 10 s grace after it (60 s let a killed worker's lost task stall scoring for a minute)
    assert countdown < ttl <= countdown + 10


@override_settings(CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}})
def test_marking_on_the_local_memory_cache_skips_patients_already_pending():
    # given the in-process cache (no Redis), patient 2 already pending
    cache.clear()
    cache.add(_pending_key(2), 1, timeout=60)
    # when a batch is marked / then only the others are new, each for the pending period
    assert _mark_pending([1, 2, 3]) == [1, 3]
    assert _mark_pending([1, 3, 4]) == [4]


def test_a_rescore_is_sent_without_a_countdown_by_default(tasks_sent, django_capture_on_commit_callbacks):
    # given a broker that records how tasks are sent
    sent = tasks_sent
    patient = PatientFactory()
    # when ingest's transaction commits
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore([patient.pk])
    # then the task may run at once on the prompt queue: no delay stands between a reading and its alert
    assert sent == [([patient.pk], {"countdown": None, "queue": "vw.prompt"})]


@override_settings(VW_RESCORE_DELAY_SECONDS=2)
def test_a_configured_delay_is_still_honoured(tasks_sent, django_capture_on_commit_callbacks):
    # given a deployment that prefers to wait two seconds
    patient = PatientFactory()
    # when ingest commits / then the task is sent with that countdown
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        request_rescore([patient.pk])
    assert [options for _, options in tasks_sent] == [{"countdown": 2, "queue": "vw.prompt"}]


def test_a_task_for_sixty_patients_stores_their_scores_in_a_few_statements_per_chunk(django_assert_max_num_queries):
    # given sixty patients, each with a complete normal set and no score yet
    patients = PatientFactory.create_batch(60)
    for patient in patients:
        record_set(patient)
    # when one task rescores them all
    # (per chunk of 25: the locking read, the readings, the previous scores, one INSERT of
    # scores, one UPDATE of patients, one locking read of their live alerts, and its savepoint;
    # nothing per patient: one patient at a time cost six queries each, and a live-alert read
    # per patient one more each)
    with django_assert_max_num_queries(3 * 8):
        created = rescore_patients([p.pk for p in patients], now=timezone.now())
    # then every patient has exactly one new score, and it is the patient's current score
    assert len(created) == 60
    assert EarlyWarningScore.objects.filter(patient__in=patients).count() == 60
    current = type(patients[0]).objects.filter(pk__in=[p.pk for p in patients])
    assert {p.current_score_id for p in current} == {s.pk for s in created}
    # and each patient points at its own score, not another patient's
    assert all(owner == pk for pk, owner in current.values_list("pk", "current_score__patient_id"))
