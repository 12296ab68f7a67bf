"""The patient (UKCore-Patient) and their registered GP practice (UKCore-Organization).

Only what the record holds is said: the NHS number with its verification status (the NHS Data
Dictionary's codes, which UK Core's England code system carries), name, sex, birth date, home
address, every phone, the GP practice by ODS code, next of kin and carers, and the preferred
language (with whether an interpreter is needed).
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
    telecom = _telecom(patient)
    if telecom:
        resource["telecom"] = telecom
    gender = GENDERS.get(patient.sex)
    if gender:
        resource["gender"] = gender
    resource["birthDate"] = patient.date_of_birth.isoformat()
    address = _address(patient)
    if address:
        resource["address"] = [address]
    practice = gp_practice(patient)
    if practice is not None:
        resource["generalPractitioner"] = [reference("Organization", practice["id"], practice.get("name"))]
    contacts = [_contact(contact) for contact in patient.contacts.all()]
    if contacts:
        resource["contact"] = contacts
    if patient.preferred_language:
        resource["communication"] = [_language(patient)]
    return finish(resource, profile="Patient", last_updated=patient_last_updated(patient))


def nhs_number_identifier(patient: Patient) -> dict[str, Any]:
    identifier: dict[str, Any] = {"system": codes.NHS_NUMBER, "value": patient.nhs_number}
    status = patient.nhs_number_status
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
    ods = patient.gp_practice_code.upper()
    if not ods:
        return None
    return {"id": f"ods-{ods}", "ods": ods, "name": patient.gp_practice_name}


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


PHONE_USE = {"mobile": "mobile", "home": "home", "work": "work"}
RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/v2-0131"


def _telecom(patient: Patient) -> list[dict[str, Any]]:
    phones = list(patient.phones.all())
    if not phones:
        return [{"system": "phone", "value": patient.phone, "use": "home"}] if patient.phone else []
    telecom = []
    for rank, phone in enumerate(phones, start=1):  # the preferred number first (its ordering)
        entry: dict[str, Any] = {"system": "phone", "value": phone.number, "rank": rank}
        if phone.kind in PHONE_USE:
            entry["use"] = PHONE_USE[phone.kind]
        telecom.append(entry)
    return telecom


def _contact(contact: Any) -> dict[str, Any]:
    relationship: list[dict[str, Any]] = [{"text": contact.get_relationship_display()}]
    if contact.is_next_of_kin:
        relationship.append({"coding": [{"system": RELATIONSHIP, "code": "N", "display": "Next-of-Kin"}]})
    if contact.is_carer:
        relationship.append({"text": "Carer"})
    entry: dict[str, Any] = {"relationship": relationship, "name": {"text": contact.name}}
    telecom = [{"system": "phone", "value": contact.phone}]
    if contact.email:
        telecom.append({"system": "email", "value": contact.email})
    entry["telecom"] = telecom
    return entry


def _language(patient: Patient) -> dict[str, Any]:
    # BCP 47 language tags (the record keeps ISO 639 codes, which are valid BCP 47 tags).
    language = {"coding": [{"system": "urn:ietf:bcp:47", "code": patient.preferred_language}]}
    communication: dict[str, Any] = {"language": language, "preferred": True}
    if patient.interpreter_needed:
        language["text"] = f"{patient.preferred_language} (interpreter needed)"
    return communication
