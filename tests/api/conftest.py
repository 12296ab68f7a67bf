"""Two wards, a clinician on each, an operator and an administrator, and API clients for them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from tests.factories import PatientFactory, UserFactory, WardFactory


@pytest.fixture
def ward_a():
    return WardFactory(name="Ward A")


@pytest.fixture
def ward_b():
    return WardFactory(name="Ward B")


@pytest.fixture
def clinician_a(ward_a):
    user = UserFactory(username="clin-a", role=Role.CLINICIAN)
    ward_a.staff.add(user)
    return user


@pytest.fixture
def clinician_b(ward_b):
    user = UserFactory(username="clin-b", role=Role.CLINICIAN)
    ward_b.staff.add(user)
    return user


@pytest.fixture
def operator():
    return UserFactory(username="operator", role=Role.OPERATOR)


@pytest.fixture
def administrator():
    return UserFactory(username="admin", role=Role.ADMINISTRATOR)


@pytest.fixture
def patient_a(ward_a):
    return PatientFactory(ward=ward_a, given_name="Ada", family_name="Lovelace")


@pytest.fixture
def patient_b(ward_b):
    return PatientFactory(ward=ward_b, given_name="Bea", family_name="Brown")


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()
