"""Everything the platform can emit as FHIR passes fhir.resources (R4B) and HL7's R4 JSON schema."""

from __future__ import annotations

import pytest

from tests.fhir.validation import assert_valid_fhir, schema_errors
from ukcore.resources.care import device_resource, encounter_resource, flag_resource, practitioner_resource
from ukcore.resources.observations import observation_resource, score_resource
from ukcore.resources.patient import organization_resource, patient_resource
from ukcore.selectors import blood_pressure_partners, reading_types

pytestmark = pytest.mark.django_db


def test_the_validators_catch_what_they_are_here_to_catch():
    # given resources broken in ways each validator owns, then each validator refuses its own
    assert schema_errors({"resourceType": "Patient", "id": "1", "gender": "x"}) != []  # R4's gender codes
    assert schema_errors({"resourceType": "Patient", "id": "1", "birthDate": "17/05/1944"}) != []
    with pytest.raises(AssertionError, match="R4 JSON schema"):
        assert_valid_fhir({"resourceType": "Patient", "id": "1", "gender": "x"})
    with pytest.raises(ValueError, match="status"):  # pydantic: a required element missing
        assert_valid_fhir({"resourceType": "Observation", "id": "1", "code": {"text": "x"}})
    assert schema_errors({"resourceType": "Patient", "id": "1", "gender": "female"}) == []


@pytest.mark.parametrize("name", [
    "respiratory_rate", "spo2", "heart_rate", "systolic_bp", "diastolic_bp", "temperature", "consciousness",
    "on_oxygen", "o2_flow_rate", "weight", "fall_detected", "room_air", "lone_diastolic",
])  # fmt: skip
def test_every_kind_of_reading_is_a_valid_observation(ward, name):
    observation = ward.readings[name]
    partner = blood_pressure_partners([observation]).get(observation.pk)
    assert_valid_fhir(observation_resource(observation, partner))


def test_a_complete_and_an_incomplete_news2_are_valid_observations(ward, incomplete_score):
    for score in (ward.score, incomplete_score):
        assert_valid_fhir(score_resource(score, reading_types([score])))


def test_patient_stay_flag_devices_and_people_are_valid(ward):
    patient = ward.patient
    assert_valid_fhir(patient_resource(patient))
    assert_valid_fhir(encounter_resource(patient.stays.get()))
    assert_valid_fhir(flag_resource(patient.stays.get()))
    for device in ward.devices.values():
        assert_valid_fhir(device_resource(device))
    assert_valid_fhir(practitioner_resource(ward.clinician))
    practice = {"id": "ods-B82005", "ods": "B82005", "name": "The Health Centre"}
    assert_valid_fhir(organization_resource(practice, patient.admitted_at))


def test_a_full_record_and_a_discharged_readmission_are_valid(ward):
    from django.utils import timezone

    from patients.models import Contact, PatientPhone

    # given every part of the record filled in
    patient = ward.patient
    patient.sex, patient.nhs_number_status, patient.preferred_language = "female", "01", "cy"
    patient.address_line_1, patient.address_town, patient.interpreter_needed = "1 High Street", "Leeds", True
    patient.gp_practice_code, patient.gp_practice_name = "B82005", "The Health Centre"
    patient.save()
    PatientPhone.objects.create(patient=patient, kind="mobile", number="+447700900111", preferred=True)
    PatientPhone.objects.create(patient=patient, kind="home", number="+441134960000")
    Contact.objects.create(patient=patient, name="Jo Lee", relationship="spouse_partner", phone="+447700900222",
                           email="jo@example.org", is_next_of_kin=True, is_carer=True)  # fmt: skip
    resource = patient_resource(patient)
    assert_valid_fhir(resource)
    assert (
        resource["gender"] == "female" and resource["generalPractitioner"][0]["reference"] == "Organization/ods-B82005"
    )
    assert [t["value"] for t in resource["telecom"]] == ["+447700900111", "+441134960000"]
    assert resource["contact"][0]["name"]["text"] == "Jo Lee"
    assert resource["communication"][0]["language"]["coding"][0]["code"] == "cy"
    # and a finished stay that readmitted
    stay = patient.stays.get()
    stay.discharged_at, stay.outcome, stay.destination = timezone.now(), "hospital", "St James's"
    assert_valid_fhir(encounter_resource(stay))
    assert encounter_resource(stay)["hospitalization"]["dischargeDisposition"]["text"].endswith("St James's")
    assert_valid_fhir(flag_resource(stay))


def test_an_incomplete_news2_says_it_is_a_lower_bound_and_scores_no_missing_parameter_as_0(incomplete_score):
    # given a score built from SpO2 alone; when it is shared as FHIR
    resource = score_resource(incomplete_score, reading_types([incomplete_score]))

    # then the six missing parameters carry a reason for having no value, never a 0
    absent = [c for c in resource["component"] if "dataAbsentReason" in c]
    assert len(absent) == 6 and not any("valueQuantity" in c for c in absent)
    # and the note says the total and risk are lower bounds
    assert "Incomplete" in resource["note"][0]["text"] and "lower bounds" in resource["note"][0]["text"]
