"""The patient (UKCore-Patient) and their registered GP practice (UKCore-Organization).

Only what the record holds is said. Fields the patient record may not have yet (sex, address
lines, GP practice, contacts, the NHS number's verification status) are read with ``getattr``
so that this mapping works before and after the record grows them (docs/fhir.md#patient).
"""

from __future__ import annotations

from typing import Any

from patients.models import Patient
from ukcore import codes
from ukcore.resources.common import finish, reference

GENDERS = {"male": "male", "female": "female", "other": "other", "unknown": "unknown", "m": "male", "f": "female"}


def patient_last_updated(patient: Patient) -> Any:
    moments = [patient.admitted_at, patient.discharged_at, getattr(patient, "updated_at", None)]
    return max(moment for moment in moments if moment is not None)


def patient_resource(patient: Patient) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": str(patient.pk),
        "identifier": [nhs_number_identifier(patient)],
        "active": True,
        "name": [{"use": "official", "family": patient.family_name, "given": [patient.given_name]}],
    }
    if patient.phone:
        resource["telecom"] = [{"system": "phone", "value": patient.phone, "use": "home"}]
    gender = GENDERS.get(str(getattr(patient, "sex", "") or "").lower())
    if gender:
        resource["gender"] = gender
    resource["birthDate"] = patient.date_of_birth.isoformat()
    address = _address(patient)
    if address:
        resource["address"] = [address]
    practice = gp_practice(patient)
    if practice is not None:
        resource["generalPractitioner"] = [reference("Organization", practice["id"], practice.get("name"))]
    contacts = [_contact(contact) for contact in _contacts(patient)]
    if contacts:
        resource["contact"] = contacts
    return finish(resource, profile="Patient", last_updated=patient_last_updated(patient))


def nhs_number_identifier(patient: Patient) -> dict[str, Any]:
    identifier: dict[str, Any] = {"system": codes.NHS_NUMBER, "value": patient.nhs_number}
    status = str(getattr(patient, "nhs_number_verification", "") or "")
    if status in codes.VERIFICATION_STATUS:
        identifier = {
            "extension": [
                {
                    "url": codes.NHS_NUMBER_VERIFICATION_EXTENSION,
                    "valueCodeableConcept": codes.concept(
                        codes.Code(codes.NHS_NUMBER_VERIFICATION_SYSTEM, status, codes.VERIFICATION_STATUS[status])
                    ),
                }
            ],
            **identifier,
        }
    return identifier


def _address(patient: Patient) -> dict[str, Any] | None:
    lines = [
        str(line) for line in (getattr(patient, "address_line_1", ""), getattr(patient, "address_line_2", "")) if line
    ]
    city = getattr(patient, "address_town", "") or getattr(patient, "town", "")
    if not (lines or city or patient.postcode):
        return None
    address: dict[str, Any] = {"use": "home"}
    if lines:
        address["line"] = lines
    if city:
        address["city"] = city
    if patient.postcode:
        address["postalCode"] = patient.postcode
    return address


def gp_practice(patient: Patient) -> dict[str, str] | None:
    """The registered practice as {"id", "ods", "name"}, or None when the record names none."""
    ods = str(getattr(patient, "gp_practice_ods", "") or getattr(patient, "gp_practice_code", "") or "").upper()
    if not ods:
        return None
    return {"id": f"ods-{ods}", "ods": ods, "name": str(getattr(patient, "gp_practice_name", "") or "")}


def organization_resource(practice: dict[str, str], last_updated: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Organization",
        "id": practice["id"],
        "identifier": [{"system": codes.ODS_CODE, "value": practice["ods"]}],
        "active": True,
    }
    if practice.get("name"):
        resource["name"] = practice["name"]
    return finish(resource, profile="Organization", last_updated=last_updated)


def _contacts(patient: Patient) -> list[Any]:
    related = getattr(patient, "contacts", None)
    if related is None or not hasattr(related, "all"):
        return []
    return list(related.all())


def _contact(contact: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    relationship = str(getattr(contact, "relationship", "") or "")
    if relationship:
        entry["relationship"] = [{"text": relationship}]
    name = str(getattr(contact, "name", "") or "")
    entry["name"] = {"text": name} if name else {"text": "Contact"}
    phone = str(getattr(contact, "phone", "") or "")
    if phone:
        entry["telecom"] = [{"system": "phone", "value": phone}]
    return entry
