"""Stays and the record over the API: admission with referral, discharge with outcome, readmission."""

from __future__ import annotations

import pytest

from devices.models import Device
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db
ADMIT = {
    "nhs_number": "999-900-0029", "given_name": "Cy", "family_name": "Doe", "date_of_birth": "1950-03-04",
    "referral_source": "hospital_ward", "reason": "Step-down after pneumonia", "referrer": "Ward 12",
}  # fmt: skip


def test_an_admission_with_its_record_opens_a_step_down_stay(api_as, clinician_a, ward_a):
    body = {**ADMIT, "ward": ward_a.pk, "phone": "07700 900123",
            "record": {"sex": "male", "gp_practice_code": "a81001", "gp_practice_name": "Riverside"}}  # fmt: skip
    response = api_as(clinician_a).post("/api/v1/patients/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["sex"], data["gp_practice_code"], data["phone"]) == ("male", "A81001", "+447700900123")
    assert data["stay"]["direction"] == "step_down" and data["stay"]["referrer"] == "Ward 12"
    assert data["age"] >= 75 and data["phones"][0]["preferred"] is True


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"referral_source": "not_recorded"}, "referral_source"),
        ({"reason": ""}, "reason"),
        ({"record": {"sex": "woman"}}, "record"),
        ({"record": {"communication_needs": ["telepathy"]}}, "record"),
        ({"phone": "12"}, "number"),
    ],
)
def test_a_bad_admission_names_the_field(api_as, clinician_a, ward_a, changes, field):
    response = api_as(clinician_a).post("/api/v1/patients/", {**ADMIT, "ward": ward_a.pk, **changes}, format="json")
    assert response.status_code == 400 and field in response.json()


def test_discharge_needs_an_outcome_and_a_readmission_is_a_new_stay(api_as, clinician_a, patient_a, ward_a):
    client = api_as(clinician_a)
    DeviceFactory(patient=patient_a, secret_hash="$7$x")
    assert list(client.post(f"/api/v1/patients/{patient_a.pk}/discharge/", {}, format="json").json()) == ["outcome"]
    # a transfer that does not say where to is refused beside the field, and nothing changes
    transfer = client.post(f"/api/v1/patients/{patient_a.pk}/discharge/", {"outcome": "hospital"}, format="json")
    assert transfer.status_code == 400 and list(transfer.json()) == ["destination"]
    assert Device.objects.get(patient=patient_a).is_paired
    done = client.post(
        f"/api/v1/patients/{patient_a.pk}/discharge/", {"outcome": "self_discharged"}, format="json"
    ).json()
    assert done["active"] is False and done["stay"] is None
    assert not Device.objects.get(patient=patient_a).is_paired
    again = client.post(
        f"/api/v1/patients/{patient_a.pk}/readmit/",
        {"ward": ward_a.pk, "referral_source": "nhs_111", "reason": "breathless"},
        format="json",
    )
    assert again.status_code == 201 and again.json()["is_readmission"] is True
    stays = client.get(f"/api/v1/patients/{patient_a.pk}/stays/").json()
    assert [s["outcome"] for s in stays] == ["", "self_discharged"]
    listed = client.get("/api/v1/stays/?readmission=true").json()["results"]
    assert [s["patient"] for s in listed] == [patient_a.pk]


def test_a_clinician_of_another_ward_sees_no_stay_and_cannot_readmit(api_as, clinician_b, patient_a, ward_b):
    client = api_as(clinician_b)
    assert client.get("/api/v1/stays/").json()["results"] == []
    response = client.post(
        f"/api/v1/patients/{patient_a.pk}/readmit/", {"ward": ward_b.pk, "referral_source": "gp", "reason": "x"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 404


def test_the_record_is_patched_with_clear_errors(api_as, clinician_a, patient_a):
    client = api_as(clinician_a)
    bad = client.patch(f"/api/v1/patients/{patient_a.pk}/record/", {"gp_practice_code": "123"}, format="json")
    assert bad.status_code == 400 and "gp_practice_code" in bad.json()
    good = client.patch(
        f"/api/v1/patients/{patient_a.pk}/record/", {"preferred_language": "pa", "interpreter_needed": True},
        format="json",
    )  # fmt: skip
    assert good.status_code == 200 and good.json()["preferred_language"] == "pa"
    contact = client.post(
        f"/api/v1/patients/{patient_a.pk}/contacts/",
        {"name": "Sam", "relationship": "child", "phone": "nope", "is_carer": True, "may_see": "plan"},
        format="json",
    )
    assert contact.status_code == 400 and "phone" in contact.json()
