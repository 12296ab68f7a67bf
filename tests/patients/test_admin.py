"""The admin: every model's list opens, searches and filters; clinical evidence is read-only."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditEvent
from scoring.models import EarlyWarningScore
from tests.factories import DeviceFactory, ObservationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    user = get_user_model().objects.create_superuser("root", "root@example.org", "a-long-admin-password")
    client.force_login(user)
    return client


@pytest.fixture
def some_data():
    observation = ObservationFactory(device=DeviceFactory())
    audit_record(actor=None, action="patient.viewed", patient=observation.patient)
    return observation


def _registered():
    return [model for model in admin.site._registry if model._meta.app_label in {"accounts", "auth", "patients",
            "devices", "scoring", "alerts"}]  # fmt: skip


@pytest.mark.parametrize("model", _registered(), ids=lambda m: m._meta.label)
def test_every_admin_list_opens_with_search_and_filters(superuser_client, some_data, model):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    assert superuser_client.get(url).status_code == 200
    assert superuser_client.get(url, {"q": "999"}).status_code == 200


def test_the_audit_trail_cannot_be_added_to_changed_or_deleted_in_the_admin(superuser_client, some_data):
    event = AuditEvent.objects.get()
    assert superuser_client.get(reverse("admin:accounts_auditevent_add")).status_code == 403
    change_page = superuser_client.get(reverse("admin:accounts_auditevent_change", args=[event.pk]))
    assert change_page.status_code == 200
    assert b'name="_save"' not in change_page.content
    assert superuser_client.get(reverse("admin:accounts_auditevent_delete", args=[event.pk])).status_code == 403


def test_scores_and_observations_are_read_only_evidence(superuser_client, some_data):
    score = EarlyWarningScore.objects.create(
        patient=some_data.patient, computed_at=timezone.now(), as_of=timezone.now(), total=0, risk="low",
        band="zero", spo2_scale=1, complete=False, sub_scores={}, clinical_response="x",
        monitoring_frequency="y", monitoring_interval_s=1,
    )  # fmt: skip
    assert superuser_client.post(reverse("admin:scoring_earlywarningscore_delete", args=[score.pk])).status_code == 403
    page = superuser_client.get(reverse("admin:patients_observation_change", args=[some_data.pk]))
    assert b'name="_save"' not in page.content


def test_the_patient_admin_does_not_let_the_spo2_scale_be_edited_without_a_record(superuser_client, some_data):
    page = superuser_client.get(reverse("admin:patients_patient_change", args=[some_data.patient.pk]))
    assert page.status_code == 200
    assert b'name="spo2_scale"' not in page.content
