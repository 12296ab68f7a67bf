"""Two wards; the record under test is on ward A. Actors of every kind try to reach it."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from accounts.models import Role
from alerts.models import Alert, AlertKind, Category, Severity
from tests.factories import ObservationFactory, PatientFactory, UserFactory, WardFactory


@pytest.fixture
def world(db):
    ward_a, ward_b = WardFactory(name="Ward A"), WardFactory(name="Ward B")
    patient = PatientFactory(ward=ward_a)
    own, other = UserFactory(username="clin-a"), UserFactory(username="clin-b")
    ward_a.staff.add(own)
    ward_b.staff.add(other)
    now = timezone.now()
    return {
        "ward": ward_a,
        "patient": patient,
        "observation": ObservationFactory(patient=patient),
        "alert": Alert.objects.create(
            kind=AlertKind.NEWS2_RISK,
            category=Category.CLINICAL,
            severity=Severity.HIGH,
            patient=patient,
            title="NEWS2 7",
            opened_at=now,
            updated_at=now,
        ),
        "actors": {
            "own_clinician": own,
            "other_wards_clinician": other,
            "operator": UserFactory(username="ops", role=Role.OPERATOR),
            "administrator": UserFactory(username="admin", role=Role.ADMINISTRATOR),
            "login_without_role": get_user_model().objects.create_user("norole", password="correct-horse-battery"),
            "anonymous": None,
        },
    }


# Who may reach a patient on ward A: the same answer on every route.
EXPECTED = {
    "own_clinician": True,
    "other_wards_clinician": False,
    "operator": True,
    "administrator": True,
    "login_without_role": False,
    "anonymous": False,
}


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Factories set staff passwords; the production hasher would make each user cost ~0.5 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
