"""Newly scored observations reach a shared care record as bounded transaction Bundles."""

from __future__ import annotations

import pytest
from django.utils import timezone

from tests.fhir.conftest import reading
from tests.fhir.receiver import fhir_receiver
from tests.fhir.validation import assert_valid_fhir
from ukcore.models import Delivery, ObservationPush
from ukcore.push import push_resend

pytestmark = pytest.mark.django_db


def score_now(ward, django_capture_on_commit_callbacks):
    from scoring.services import rescore_patients

    reading(ward.patient, "heart_rate", 131, unit="/min", at=timezone.now(), device=ward.devices["oximeter"])
    with django_capture_on_commit_callbacks(execute=True):
        return rescore_patients([ward.patient.pk])


def test_nothing_is_pushed_when_no_endpoint_is_configured(
    ward,
    settings,
    django_capture_on_commit_callbacks,
    eager_tasks,
    clean_cache,
):
    settings.VW_FHIR_OBSERVATIONS_URL = ""
    assert score_now(ward, django_capture_on_commit_callbacks)
    assert not ObservationPush.objects.exists()


def test_a_new_score_and_its_readings_are_pushed_as_one_valid_transaction(
    ward,
    settings,
    django_capture_on_commit_callbacks,
    eager_tasks,
    clean_cache,
):
    with fhir_receiver() as receiver:
        settings.VW_FHIR_OBSERVATIONS_URL = receiver.url
        created = score_now(ward, django_capture_on_commit_callbacks)
    push = ObservationPush.objects.get()
    assert (push.state, push.attempts, push.patient_ids) == (Delivery.SENT, 1, [ward.patient.pk])
    [bundle] = receiver.received
    assert_valid_fhir(bundle)
    assert bundle["type"] == "transaction"
    ids = [entry["resource"]["id"] for entry in bundle["entry"]]
    assert f"news2-{created[0].pk}" in ids and f"bp-{ward.readings['systolic_bp'].pk}" in ids
    for entry in bundle["entry"]:
        assert_valid_fhir(entry["resource"])
        assert entry["request"] == {"method": "PUT", "url": f"Observation/{entry['resource']['id']}"}


def test_a_large_batch_is_split_into_bundles_of_the_configured_size(
    ward,
    settings,
    django_capture_on_commit_callbacks,
    eager_tasks,
    clean_cache,
):
    settings.VW_FHIR_PUSH_MAX_RESOURCES = 3
    with fhir_receiver() as receiver:
        settings.VW_FHIR_OBSERVATIONS_URL = receiver.url
        score_now(ward, django_capture_on_commit_callbacks)
    sizes = [len(bundle["entry"]) for bundle in receiver.received]
    assert max(sizes) <= 3 and len(sizes) >= 3
    assert sum(sizes) == sum(ObservationPush.objects.values_list("resource_count", flat=True))


def test_a_failing_shared_record_is_retried_then_the_push_is_kept_failed_and_can_be_resent(
    ward,
    settings,
    django_capture_on_commit_callbacks,
    eager_tasks,
    clean_cache,
):
    settings.VW_FHIR_RETRIES = 2
    with fhir_receiver() as receiver:
        receiver.fail_next = [502] * 3
        settings.VW_FHIR_OBSERVATIONS_URL = receiver.url
        score_now(ward, django_capture_on_commit_callbacks)
        push = ObservationPush.objects.get()
        assert (push.state, push.attempts, receiver.attempts) == (Delivery.FAILED, 3, 3)
        assert receiver.received == []
        # when someone sends it again, with the record back up, then it arrives
        with django_capture_on_commit_callbacks(execute=True):
            assert push_resend(push_id=push.pk)
    push.refresh_from_db()
    assert push.state == Delivery.SENT and receiver.received == [push.bundle]
