"""Admission, discharge, readmission and the record from the screens: one form each, clear errors."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, Role
from devices.models import Device, KitTask
from patients.models import Patient
from tests.factories import DeviceFactory, PatientFactory, UserFactory, WardFactory

pytestmark = pytest.mark.django_db
ADMISSION = {
    "nhs_number": "943 476 5919", "given_name": "Edna", "family_name": "Pryor", "date_of_birth": "1938-04-09",
    "sex": "female", "referral_source": "gp", "reason": "Frailty with UTI",
}  # fmt: skip


@pytest.fixture
def ward():
    return WardFactory(name="Frailty Virtual Ward", pathway="frailty")


@pytest.fixture
def nurse(ward):
    user = UserFactory(role=Role.CLINICIAN)
    ward.staff.add(user)
    return user


@pytest.fixture
def signed_in(client, nurse):
    client.force_login(nurse)
    return client


def test_the_admission_form_offers_only_the_clinicians_wards(signed_in, ward):
    other = WardFactory(name="Someone else's ward")
    page = signed_in.get("/patients/admit/").content.decode()
    assert ward.name in page and other.name not in page


def test_admitting_from_the_screen_opens_a_stay_and_goes_to_the_patient(signed_in, ward, nurse):
    response = signed_in.post("/patients/admit/", {**ADMISSION, "ward": ward.pk, "gp_practice_code": "a81001",
                                                   "gp_practice_name": "Riverside", "postcode": "ls1 4ap"})  # fmt: skip
    patient = Patient.objects.get(nhs_number="9434765919")
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/"
    assert (patient.sex, patient.gp_practice_code, patient.postcode) == ("female", "A81001", "LS1 4AP")
    assert patient.stays.get().admitted_by == nurse
    page = signed_in.get(response["Location"]).content.decode()
    assert f"{patient.age} F" in page and "Step-up (admission avoidance) from GP" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nhs_number": "943 476 5918"}, "fails its Modulus 11 check digit"),
        ({"date_of_birth": "2999-01-01"}, "The date of birth is in the future."),
        ({"referral_source": ""}, "This field is required."),
        ({"reason": ""}, "This field is required."),
        ({"gp_practice_code": "12345", "gp_practice_name": "X"}, "is not a GP practice ODS code"),
        ({"gp_practice_code": "A81001"}, "Give the practice&#x27;s name with its ODS code."),
        ({"admitted_at": "2026-11-23T10:00", "expected_discharge_on": "2026-11-01"}, "before the admission"),
    ],
)
def test_a_bad_admission_is_shown_again_with_what_is_wrong(signed_in, ward, changes, message):
    response = signed_in.post("/patients/admit/", {**ADMISSION, "ward": ward.pk, **changes})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Patient.objects.exists()


def test_admitting_to_another_ward_is_refused(signed_in):
    other = WardFactory()
    response = signed_in.post("/patients/admit/", {**ADMISSION, "ward": other.pk})
    assert response.status_code == 400 and not Patient.objects.exists()


def test_the_discharge_form_needs_the_outcome_and_the_confirmation(signed_in, ward):
    patient = PatientFactory(ward=ward)
    response = signed_in.post(f"/patients/{patient.pk}/discharge/", {"outcome": "recovered"})
    assert response.status_code == 400
    assert "Tick the box to confirm monitoring ends with the discharge." in response.content.decode()
    response = signed_in.post(
        f"/patients/{patient.pk}/discharge/", {"outcome": "hospital", "confirm_end_monitoring": "on"}
    )
    assert response.status_code == 400 and "Say which hospital or service" in response.content.decode()
    patient.refresh_from_db()
    assert patient.is_active


def test_discharging_from_the_screen_ends_monitoring_and_lists_the_kit(signed_in, ward, nurse):
    patient = PatientFactory(ward=ward)
    device = DeviceFactory(patient=patient, serial="SN-KIT-9", secret_hash="$7$x")
    response = signed_in.post(
        f"/patients/{patient.pk}/discharge/",
        {"outcome": "hospital", "destination": "County Hospital", "confirm_end_monitoring": "on"},
    )
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.revoked_at is not None and not device.is_paired
    page = signed_in.get(f"/patients/{patient.pk}/").content.decode()
    assert "Kit to collect" in page and "SN-KIT-9" in page and "Transferred to hospital" in page
    task = KitTask.objects.get(device=device)
    assert signed_in.post(f"/patients/{patient.pk}/kit/{task.pk}/collected/").status_code == 302
    task.refresh_from_db()
    assert task.state == KitTask.State.DONE
    assert AuditEvent.objects.filter(action="kit.collected", patient=patient, actor=nurse).exists()
    assert (
        "SN-KIT-9" not in signed_in.get(f"/patients/{patient.pk}/").content.decode().split("Kit to collect")[-1][:200]
    )


def test_a_discharged_patient_is_readmitted_from_their_page(signed_in, ward):
    patient = PatientFactory(
        ward=ward,
        admitted_at=timezone.now() - dt.timedelta(days=9),
        discharged_at=timezone.now() - dt.timedelta(days=2),
    )
    response = signed_in.post(
        f"/patients/{patient.pk}/readmit/", {"ward": ward.pk, "referral_source": "nhs_111", "reason": "fall"}
    )
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.is_active and patient.stays.count() == 2
    assert "Readmission within 30 days" in signed_in.get(f"/patients/{patient.pk}/").content.decode()


def test_a_bad_record_change_is_shown_with_its_reason(signed_in, ward):
    patient = PatientFactory(ward=ward)
    data = {"sex": "female", "nhs_number_status": "01", "gp_practice_code": "A8100", "gp_practice_name": "X"}
    response = signed_in.post(f"/patients/{patient.pk}/record/", data)
    assert response.status_code == 400 and "e.g. A81001" in response.content.decode()
    response = signed_in.post(f"/patients/{patient.pk}/phones/", {"number": "12", "kind": "home"})
    assert response.status_code == 400 and "not a phone number we can dial" in response.content.decode()


def test_another_wards_patient_is_not_found_on_every_stay_route(signed_in):
    stranger = PatientFactory()
    for path in ("discharge", "readmit", "record", "phones", "contacts"):
        assert signed_in.post(f"/patients/{stranger.pk}/{path}/", {}).status_code == 404
    # a well-formed discharge of the stranger is refused the same, and leaves them on their ward
    discharge = {"outcome": "recovered", "confirm_end_monitoring": "on"}
    assert signed_in.post(f"/patients/{stranger.pk}/discharge/", discharge).status_code == 404
    stranger.refresh_from_db()
    assert stranger.is_active and stranger.stays.count() == 1
    assert Device.objects.count() == 0


def test_the_stay_forms_need_a_csrf_token(nurse, ward):
    patient = PatientFactory(ward=ward)
    client = Client(enforce_csrf_checks=True)
    client.force_login(nurse)
    discharge = {"outcome": "recovered", "confirm_end_monitoring": "on"}
    assert client.post(f"/patients/{patient.pk}/discharge/", discharge).status_code == 403
    assert client.post("/patients/admit/", {**ADMISSION, "ward": ward.pk}).status_code == 403
    patient.refresh_from_db()
    assert patient.is_active and Patient.objects.count() == 1


def test_the_board_shows_each_patients_age_beside_the_name(signed_in, ward):
    patient = PatientFactory(ward=ward, sex="male", date_of_birth=dt.date(1950, 1, 1))
    page = signed_in.get(f"/wards/{ward.pk}/").content.decode()
    assert f"{patient.age} M" in page


def test_each_record_form_saves_and_returns_to_the_patient_with_a_message(signed_in, ward):
    patient = PatientFactory(ward=ward)
    base = f"/patients/{patient.pk}"
    posts = [
        ("expected-discharge", {"expected_discharge_on": str(timezone.localdate() + dt.timedelta(days=4))},
         "Expected discharge date saved."),
        ("phones", {"number": "07700 900123", "kind": "mobile", "preferred": "on"}, "Phone number added."),
        ("contacts", {"name": "Ann Pryor", "relationship": "child", "phone": "07700 900456",
                      "is_next_of_kin": "on", "may_see": "contact_only"}, "Contact added."),
        ("record", {"sex": "female", "nhs_number_status": "01", "postcode": "ls1 4ap"},
         "The patient&#x27;s record has been updated."),
    ]  # fmt: skip
    for path, data, message in posts:
        response = signed_in.post(f"{base}/{path}/", data, follow=True)
        assert response.redirect_chain == [(f"{base}/", 302)], path
        assert message in response.content.decode(), path
    patient.refresh_from_db()
    assert patient.open_stay.expected_discharge_on == timezone.localdate() + dt.timedelta(days=4)
    assert list(patient.phones.values_list("kind", flat=True)) == ["mobile"]
    assert patient.contacts.get().name == "Ann Pryor"
    assert patient.postcode == "LS1 4AP"


def test_an_expected_discharge_for_a_discharged_patient_is_refused(signed_in, ward):
    patient = PatientFactory(
        ward=ward,
        admitted_at=timezone.now() - dt.timedelta(days=9),
        discharged_at=timezone.now() - dt.timedelta(days=2),
    )
    response = signed_in.post(
        f"/patients/{patient.pk}/expected-discharge/", {"expected_discharge_on": str(timezone.localdate())}
    )
    assert response.status_code == 400
    assert not patient.stays.filter(expected_discharge_on__isnull=False).exists()
