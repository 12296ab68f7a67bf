"""The cheap paths of rescoring: marks in one Redis round trip, no countdown, a task's patients batched."""

import pytest
import redis
from django.core.cache import cache
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from scoring.models import EarlyWarningScore
from scoring.services import _mark_pending, _pending_key, request_rescore, rescore_patients
from tests.scoring_services.builders import PatientFactory, record_set

pytestmark = pytest.mark.django_db


def test_marking_a_batch_pending_on_redis_is_one_round_trip_and_skips_patients_already_pending(
    redis_cache, round_trips
):
    # given patient 2 already pending
    cache.add(_pending_key(2), 1, timeout=60)
    round_trips.update(pipelines=0, single_sets=0)
    # when a batch of five patients is marked
    fresh = _mark_pending([1, 2, 3, 4, 5])
    # then the four others are newly marked, in one pipelined round trip, readable through the cache
    assert fresh == [1, 3, 4, 5]
    assert round_trips == {"pipelines": 1, "single_sets": 0}
    assert all(cache.get(_pending_key(pid)) == 1 for pid in (1, 3, 4, 5))


def test_marks_set_on_redis_expire_like_cache_add_marks(redis_cache, redis_url):
    # given a freshly marked patient
    _mark_pending([7])
    # when the key's time to live is read straight from Redis
    client = redis.Redis.from_url(redis_url)
    try:
        ttl = client.ttl(cache.make_and_validate_key(_pending_key(7)))
    finally:
        client.close()
    # then a lost task cannot silence the patient for longer than the pending period
    assert 0 < ttl <= 60


def test_marking_on_the_local_memory_cache_gives_the_same_answer():
    # given the in-process cache (no Redis), patient 2 already pending
    cache.add(_pending_key(2), 1, timeout=60)
    # when a batch is marked / then only the others are new
    assert _mark_pending([1, 2, 3]) == [1, 3]


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
    # (per patient only the alert check a complete set calls for; per chunk of 25 the locking
    # read, the readings, the previous scores, one INSERT of scores and one UPDATE of patients;
    # and its savepoint; one patient at a time cost six queries each)
    with django_assert_max_num_queries(60 + 3 * 8):
        created = rescore_patients([p.pk for p in patients], now=timezone.now())
    # then every patient has exactly one new score, and it is the patient's current score
    assert len(created) == 60
    assert EarlyWarningScore.objects.filter(patient__in=patients).count() == 60
    assert {p.current_score_id for p in type(patients[0]).objects.filter(pk__in=[p.pk for p in patients])} == {
        s.pk for s in created
    }
