"""The patient's record: each coded field validated on its boundaries, with a clear message."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts.models import AuditEvent
from patients.record import display_phone, normalise_phone
from patients.record_services import contact_add, patient_phone_add, patient_phone_remove, patient_record_update
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("raw", "stored"),
    [("A81001", "A81001"), (" a81001 ", "A81001"), ("Y12345", "Y12345"), ("", "")],
)
def test_a_gp_practice_ods_code_is_a_letter_and_five_digits(patient, clinician, raw, stored):
    changed = patient_record_update(
        patient=patient, user=clinician, changes={"gp_practice_code": raw, "gp_practice_name": "Riverside Surgery"}
    )
    assert changed.gp_practice_code == stored


@pytest.mark.parametrize("raw", ["A8100", "A810011", "181001", "AA1001", "A81-01", "A8100O"])
def test_anything_else_is_refused_as_an_ods_code_with_an_example(patient, clinician, raw):
    with pytest.raises(ValidationError) as raised:
        patient_record_update(
            patient=patient, user=clinician, changes={"gp_practice_code": raw, "gp_practice_name": "Surgery"}
        )
    assert "e.g. A81001" in raised.value.message_dict["gp_practice_code"][0]


def test_a_practice_code_needs_the_practice_name(patient, clinician):
    with pytest.raises(ValidationError) as raised:
        patient_record_update(patient=patient, user=clinician, changes={"gp_practice_code": "A81001"})
    assert "gp_practice_name" in raised.value.message_dict


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sex", "woman"),
        ("nhs_number_status", "09"),
        ("nhs_number_status", "1"),
        ("preferred_language", "xx"),
        ("communication_needs", ["format_large_print", "telepathy"]),
        ("communication_needs", "format_large_print"),
        ("ward", 1),
    ],
)
def test_a_bad_coded_value_is_refused_naming_the_field(patient, clinician, field, value):
    with pytest.raises(ValidationError) as raised:
        patient_record_update(patient=patient, user=clinician, changes={field: value})
    assert field in raised.value.message_dict


@pytest.mark.parametrize("status", ["01", "02", "03", "04", "05", "06", "07", "08"])
def test_every_nhs_number_status_of_the_data_dictionary_is_accepted(patient, clinician, status):
    assert patient_record_update(patient=patient, user=clinician, changes={"nhs_number_status": status})


def test_languages_include_british_sign_language_and_an_interpreter_needs_a_language(patient, clinician):
    changed = patient_record_update(
        patient=patient, user=clinician, changes={"preferred_language": "bfi", "interpreter_needed": True}
    )
    assert changed.preferred_language == "bfi"
    with pytest.raises(ValidationError) as raised:
        patient_record_update(
            patient=patient, user=clinician, changes={"preferred_language": "en", "interpreter_needed": True}
        )
    assert "preferred_language" in raised.value.message_dict


def test_a_record_change_is_audited_with_the_fields_not_their_values(patient, clinician):
    patient_record_update(
        patient=patient,
        user=clinician,
        changes={
            "address_line_1": "1 High Street",
            "postcode": "ls1 4ap",
            "communication_needs": ["format_large_print"],
        },
    )
    patient.refresh_from_db()
    assert patient.postcode == "LS1 4AP" and patient.communication_needs == ["format_large_print"]
    event = AuditEvent.objects.get(action="patient.record_changed", patient=patient)
    assert sorted(event.detail["fields"]) == ["address_line_1", "communication_needs", "postcode"]
    assert "High Street" not in str(event.detail)


def test_a_clinician_of_another_ward_cannot_change_the_record(patient):
    with pytest.raises(PermissionDenied):
        patient_record_update(patient=patient, user=UserFactory(), changes={"sex": "female"})


# --- phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("07700 900123", "+447700900123"),
        ("0113 496 0000", "+441134960000"),
        ("+44 20 7946 0000", "+442079460000"),
        ("+33 6 12 34 56 78", "+33612345678"),
    ],
)
def test_phone_numbers_are_stored_in_e164(raw, e164):
    assert normalise_phone(raw) == e164


@pytest.mark.parametrize("raw", ["", "0770090012", "077009001234", "call me", "999", "+44 7700 900 12"])
def test_a_number_nobody_can_dial_is_refused_with_an_example(raw):
    with pytest.raises(ValidationError) as raised:
        normalise_phone(raw)
    assert "07700 900123" in raised.value.messages[0]


def test_a_uk_number_reads_back_in_national_form():
    assert display_phone("+447700900123") == "07700 900123"


def test_a_patient_has_several_phones_and_the_preferred_one_is_the_patients_phone(patient, clinician):
    home = patient_phone_add(patient=patient, user=clinician, number="0113 496 0000", kind="home")
    mobile = patient_phone_add(patient=patient, user=clinician, number="07700 900123", preferred=True)
    patient.refresh_from_db()
    assert patient.phone == mobile.number and patient.phones.count() == 2
    with pytest.raises(ValidationError):
        patient_phone_add(patient=patient, user=clinician, number="07700900123")
    patient_phone_remove(phone=mobile, user=clinician)
    patient.refresh_from_db()
    home.refresh_from_db()
    assert home.preferred and patient.phone == home.number


# --- next of kin and carers -------------------------------------------------------------------


def test_a_carer_is_recorded_with_what_they_may_see(patient, clinician):
    carer = contact_add(
        patient=patient, user=clinician, name="Sam Lee", relationship="child", phone="07700 900456",
        is_carer=True, may_see="plan",
    )  # fmt: skip
    assert carer.phone == "+447700900456" and carer.get_may_see_display().startswith("The escalation plan")
    assert AuditEvent.objects.get(action="patient.contact_added").detail["may_see"] == "plan"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "not a number"}, "phone"),
        ({"relationship": "cousin twice removed"}, "relationship"),
        ({"may_see": "everything"}, "may_see"),
        ({"name": ""}, "name"),
        ({"email": "sam@"}, "email"),
        ({"is_next_of_kin": False, "is_carer": False}, "is_next_of_kin"),
    ],
)
def test_a_bad_contact_is_refused_naming_the_field(patient, clinician, changes, field):
    fields = {
        "name": "Sam Lee", "relationship": "child", "phone": "07700 900456", "is_next_of_kin": True,
        "may_see": "contact_only", **changes,
    }  # fmt: skip
    with pytest.raises(ValidationError) as raised:
        contact_add(patient=patient, user=clinician, **fields)
    assert field in raised.value.message_dict


# --- age --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("born", "age"),
    [
        (dt.date(1944, 5, 17), 82),  # birthday today
        (dt.date(1944, 5, 18), 81),  # birthday tomorrow
        (dt.date(1944, 5, 16), 82),
        (dt.date(1944, 2, 29), 82),  # leap-day birthday, counted from 1 March in other years
    ],
)
def test_age_is_whole_years_on_the_wards_local_date(born, age):
    patient = PatientFactory.build(date_of_birth=born)
    with mock.patch("patients.models.timezone.localdate", return_value=dt.date(2026, 5, 17)):
        assert patient.age == age
