"""The discharge summary as a FHIR document: a Bundle whose first entry is a UK Core Composition.

Every reference in the document resolves inside the Bundle: each entry's ``fullUrl`` is its
address on this server's /fhir/R4/ endpoint (the Composition too: Composition/<document id>),
so "Patient/12" in any entry is the entry whose fullUrl ends in Patient/12 (FHIR R4, Bundle:
resolving references).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.utils.html import escape

from devices.models import Device
from patients.models import Observation
from ukcore import codes
from ukcore.codes import concept
from ukcore.discharge.content import Summary
from ukcore.resources.care import device_resource, encounter_id, encounter_resource, practitioner_resource
from ukcore.resources.common import finish, instant, reference
from ukcore.resources.observations import observation_resource, score_resource
from ukcore.resources.patient import gp_practice, organization_resource, patient_resource
from ukcore.selectors import blood_pressure_partners, reading_types

TITLE = "Virtual ward discharge summary"


def base_url() -> str:
    return settings.VW_BASE_URL.rstrip("/") + "/fhir/R4"


def document_bundle(summary: Summary, document_id: uuid.UUID, created_at: Any) -> dict[str, Any]:
    patient = summary.patient
    resources = [patient_resource(patient), encounter_resource(summary.stay)]
    practice = gp_practice(patient)
    if practice is not None:
        resources.append(organization_resource(practice, patient.admitted_at))
    if summary.author is not None:
        resources.append(practitioner_resource(summary.author))
    resources += _score_and_readings(summary)
    resources += [device_resource(device) for device in summary.devices if isinstance(device, Device)]
    composition = _composition(summary, document_id, created_at, practice)
    entries = [{"fullUrl": f"{base_url()}/Composition/{document_id}", "resource": composition}]
    entries += [{"fullUrl": f"{base_url()}/{r['resourceType']}/{r['id']}", "resource": r} for r in resources]
    return {
        "resourceType": "Bundle",
        "id": str(document_id),
        "meta": {"lastUpdated": instant(created_at), "profile": [codes.PROFILE["Bundle"]]},
        "identifier": {"system": codes.DOCUMENT_ID, "value": str(document_id)},
        "type": "document",
        "timestamp": instant(created_at),
        "entry": entries,
    }


def _score_and_readings(summary: Summary) -> list[dict[str, Any]]:
    score = summary.last_score
    if score is None:
        return []
    types = reading_types([score])
    readings = list(Observation.objects.filter(pk__in=types).select_related("patient"))
    partners = blood_pressure_partners(readings)
    return [score_resource(score, types), *(observation_resource(r, partners.get(r.pk)) for r in readings)]


def _composition(summary: Summary, document_id: uuid.UUID, created_at: Any, practice: Any) -> dict[str, Any]:
    patient = summary.patient
    author = (
        reference("Practitioner", summary.author.pk, summary.author.get_full_name() or summary.author.get_username())
        if summary.author is not None
        else {"display": f"{patient.ward.name} (virtual ward)"}
    )
    composition: dict[str, Any] = {
        "resourceType": "Composition",
        "id": str(document_id),
        "identifier": {"system": codes.DOCUMENT_ID, "value": str(document_id)},
        "status": "final",
        "type": concept(codes.DISCHARGE_SUMMARY),
        "subject": reference("Patient", patient.pk, patient.name),
        "encounter": reference("Encounter", encounter_id(summary.stay)),
        "date": instant(created_at),
        "author": [author],
        "title": TITLE,
        "section": [_section(section) for section in summary.sections],
    }
    if practice is not None:
        composition["section"].insert(0, _gp_section(practice))
    return finish(composition, profile="Composition", last_updated=created_at)


def _section(section: Any) -> dict[str, Any]:
    items = "".join(f"<li>{escape(line)}</li>" for line in section.lines)
    result: dict[str, Any] = {
        "title": section.title,
        "code": concept(section.code),
        "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><ul>{items}</ul></div>'},
    }
    if section.entries:
        result["entry"] = [reference(kind, resource_id) for kind, resource_id in section.entries]
    return result


def _gp_section(practice: dict[str, str]) -> dict[str, Any]:
    name = practice.get("name") or "Registered GP practice"
    text = f"{name} (ODS {practice['ods']})"
    return {
        "title": "GP practice",
        "code": concept(codes.heading("general-practitioner-practice", "General practitioner practice")),
        "text": {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{escape(text)}</div>'},
        "entry": [reference("Organization", practice["id"])],
    }
