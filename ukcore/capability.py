"""The CapabilityStatement served at /fhir/R4/metadata: what a client may ask of this server."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from ukcore import codes
from ukcore.handlers import READ, SEARCH_PARAMETERS
from ukcore.resources.common import instant
from ukcore.search import MAX_COUNT

SUPPORTED_PROFILES = {
    "Patient": ["Patient"],
    "Observation": [
        "RespirationRate", "OxygenSaturation", "BloodPressure", "HeartRate", "BodyTemperature", "BodyWeight",
        "ACVPU", "InspiredOxygen", "EarlyWarningScore", "Observation",
    ],
    "Encounter": ["Encounter"], "Flag": ["Flag"], "Device": ["Device"],
    "Organization": ["Organization"], "Practitioner": ["Practitioner"], "Composition": ["Composition"],
}  # fmt: skip
COMMON_PARAMETERS = {"_lastUpdated": "date", "_count": "number"}


def capability_statement(base_url: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "id": "virtual-ward",
        "status": "active",
        "date": instant(timezone.now()),
        "kind": "instance",
        "software": {"name": "Virtual Ward"},
        "implementation": {"description": "NHS virtual ward remote monitoring, FHIR R4 to UK Core", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    "Read-only. Authenticate with 'Authorization: Token <key>' (or a signed-in session). "
                    "Clinicians see their own wards' patients only; a record of another ward is answered "
                    f"as not found. Searches page with 'next' links; _count is at most {MAX_COUNT}."
                ),
                "security": {
                    "cors": False,
                    "description": "Token authentication as on /api/v1/ (docs/api.md); every read is audited.",
                },
                "resource": [_resource(kind) for kind in READ],
            }
        ],
    }


def _resource(kind: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "type": kind,
        "profile": codes.PROFILE[SUPPORTED_PROFILES[kind][-1] if kind != "Observation" else "Observation"],
        "supportedProfile": [codes.PROFILE[name] for name in SUPPORTED_PROFILES[kind]],
        "interaction": [{"code": "read"}],
        "versioning": "versioned",
        "readHistory": False,
        "conditionalRead": "not-match",
    }
    if kind in SEARCH_PARAMETERS:
        resource["interaction"].append({"code": "search-type"})
        parameters = {**SEARCH_PARAMETERS[kind], **COMMON_PARAMETERS}
        resource["searchParam"] = [{"name": name, "type": kind_} for name, kind_ in parameters.items()]
    return resource
