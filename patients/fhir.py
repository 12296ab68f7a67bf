"""Patients and observations as small, hand-built FHIR R4 resources.

Only what the platform actually knows is said: the NHS number with the NHS identifier system,
LOINC codes and UCUM units from the device protocol's table, and the time a reading was taken
as ``effectiveDateTime`` (when it reached us is ``issued``).
"""

from __future__ import annotations

from typing import Any

from patients.models import Observation, Patient
from patients.vitals import CONSCIOUSNESS_NAMES, RULES

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/observation-category"
FHIR_MEDIA_TYPE = "application/fhir+json"


def patient_resource(patient: Patient) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": patient.nhs_number}],
        "active": patient.is_active,
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
        "birthDate": patient.date_of_birth.isoformat(),
    }
    if patient.phone:
        resource["telecom"] = [{"system": "phone", "value": patient.phone, "use": "home"}]
    return resource


def observation_resource(observation: Observation) -> dict[str, Any]:
    rule = RULES[observation.type]
    coding = [{"system": LOINC_SYSTEM, "code": rule.loinc, "display": rule.display}] if rule.loinc else []
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(observation.pk),
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": "vital-signs", "display": "Vital Signs"}]}],
        "code": {"coding": coding, "text": observation.get_type_display()} if coding else {"text": rule.display},
        "subject": {
            "reference": f"Patient/{observation.patient_id}",
            "identifier": {"system": NHS_NUMBER_SYSTEM, "value": observation.patient.nhs_number},
        },
        "effectiveDateTime": observation.measured_at.isoformat(),
        "issued": observation.received_at.isoformat(),
        **_value(observation),
    }
    if observation.device_id is not None:
        resource["device"] = {"display": f"{observation.device.get_kind_display()} {observation.device.device_id}"}
    elif observation.entered_by_id is not None:
        person = observation.entered_by
        resource["performer"] = [{"display": person.get_full_name() or person.get_username()}]
    return resource


def _value(observation: Observation) -> dict[str, Any]:
    shown = observation.display_value
    if isinstance(shown, bool):
        return {"valueBoolean": shown}
    if observation.type == "consciousness":
        return {"valueCodeableConcept": {"text": f"{shown} – {CONSCIOUSNESS_NAMES.get(str(shown), shown)}"}}
    if shown is None:
        return {"dataAbsentReason": {"text": "No value recorded"}}
    return {
        "valueQuantity": {"value": shown, "unit": observation.unit, "system": UCUM_SYSTEM, "code": observation.unit}
    }
