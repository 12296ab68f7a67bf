"""FHIR R4 JSON for patients and observations: small, hand-built, and correct where it speaks."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from patients.services import observation_record_manual
from tests.factories import ObservationFactory

pytestmark = pytest.mark.django_db

MEASURED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def test_a_patient_is_a_fhir_patient_with_the_nhs_number_identifier(api_as, clinician_a, patient_a):
    # when a patient is fetched as FHIR
    response = api_as(clinician_a).get(f"/api/v1/patients/{patient_a.pk}/fhir/")
    # then it is a Patient resource in FHIR's own media type, identified by the NHS number
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    resource = response.json()
    assert resource["resourceType"] == "Patient"
    assert resource["id"] == str(patient_a.pk)
    [identifier] = resource["identifier"]
    assert (identifier["system"], identifier["value"]) == ("https://fhir.nhs.uk/Id/nhs-number", patient_a.nhs_number)
    # with UK Core's verification status (a new record's number is "present but not traced")
    assert identifier["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "02"
    assert resource["name"] == [{"use": "official", "family": "Lovelace", "given": ["Ada"]}]
    assert resource["birthDate"] == "1944-05-17"
    assert resource["active"] is True
    assert AuditEvent.objects.filter(action="patient.fhir_exported", patient=patient_a).exists()


def test_fhir_is_also_served_to_a_client_asking_for_plain_json(api_as, clinician_a, patient_a):
    response = api_as(clinician_a).get(f"/api/v1/patients/{patient_a.pk}/fhir/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["resourceType"] == "Patient"


def test_another_wards_patient_is_not_exported(api_as, clinician_a, patient_b):
    assert api_as(clinician_a).get(f"/api/v1/patients/{patient_b.pk}/fhir/").status_code == 404


@pytest.mark.parametrize(
    ("vital", "value", "unit", "loinc", "ucum"),
    [
        ("heart_rate", 88.0, "/min", "8867-4", "/min"),
        ("spo2", 93.0, "%", "2708-6", "%"),
        ("respiratory_rate", 18.0, "/min", "9279-1", "/min"),
        ("temperature", 37.8, "Cel", "8310-5", "Cel"),
        ("weight", 71.5, "kg", "29463-7", "kg"),
    ],
)
def test_a_measurement_is_a_fhir_observation_with_loinc_ucum_and_effective_time(
    api_as, operator, patient_a, vital, value, unit, loinc, ucum
):
    observation = ObservationFactory(patient=patient_a, type=vital, value=value, unit=unit, measured_at=MEASURED)
    resource = api_as(operator).get(f"/api/v1/observations/{observation.pk}/fhir/").json()
    assert resource["resourceType"] == "Observation"
    assert resource["status"] == "final"
    assert resource["category"][0]["coding"][0]["code"] == "vital-signs"
    # the UK Core profile's SNOMED CT concept first, then the LOINC code it fixes
    assert resource["code"]["coding"][0]["system"] == "http://snomed.info/sct"
    assert {"system": "http://loinc.org", "code": loinc} in [
        {"system": c["system"], "code": c["code"]} for c in resource["code"]["coding"]
    ]
    assert resource["subject"]["reference"] == f"Patient/{patient_a.pk}"
    assert resource["subject"]["identifier"]["value"] == patient_a.nhs_number
    assert dt.datetime.fromisoformat(resource["effectiveDateTime"]) == MEASURED
    quantity = resource["valueQuantity"]
    assert (quantity["value"], quantity["system"], quantity["code"]) == (value, "http://unitsofmeasure.org", ucum)
    assert "device" in resource


def test_a_hand_entered_consciousness_level_is_a_coded_value_with_its_performer(
    api_as, clinician_a, patient_a, monkeypatch
):
    monkeypatch.setattr("patients.services.request_rescore", lambda ids: None)
    observation = observation_record_manual(
        patient=patient_a, user=clinician_a, type="consciousness", value="V", measured_at=timezone.now()
    )
    resource = api_as(clinician_a).get(f"/api/v1/observations/{observation.pk}/fhir/").json()
    # UK Core's ACVPU concept, the level as SNOMED CT's "responds to voice", the person who entered it
    assert resource["code"]["coding"][0]["code"] == "1104441000000107"
    assert resource["valueCodeableConcept"]["coding"][0]["code"] == "300202002"
    assert "valueQuantity" not in resource
    assert resource["performer"][0]["reference"] == f"Practitioner/{clinician_a.pk}"


def test_on_oxygen_is_coded_as_snomeds_patient_on_oxygen_not_as_a_flow_rate(api_as, operator, patient_a):
    observation = ObservationFactory(patient=patient_a, type="on_oxygen", value=1.0, unit="")
    resource = api_as(operator).get(f"/api/v1/observations/{observation.pk}/fhir/").json()
    assert [c["code"] for c in resource["code"]["coding"]] == ["371825009"]
    assert "3151-8" not in str(resource)


def test_another_wards_observation_is_not_exported(api_as, clinician_a, patient_b):
    observation = ObservationFactory(patient=patient_b)
    assert api_as(clinician_a).get(f"/api/v1/observations/{observation.pk}/fhir/").status_code == 404
