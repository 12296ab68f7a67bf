import pytest

from accounts.models import Role
from patients.nhs_number import is_valid_nhs_number
from tests.factories import PatientFactory, UserFactory


@pytest.mark.django_db
def test_factories_build_a_valid_patient_and_a_staff_member_with_a_role():
    patient = PatientFactory()
    operator = UserFactory(role=Role.OPERATOR)
    assert is_valid_nhs_number(patient.nhs_number)
    assert patient.nhs_number.startswith("999")
    assert operator.staff_profile.role == Role.OPERATOR
