"""The stay and what goes with it: Encounter, the virtual-ward Flag, Device, Practitioner.

Until the patient record has a stay of its own, the stay is the admission: it starts at
``admitted_at``, ends at ``discharged_at`` and belongs to the patient's ward; its id is
``stay-<patient id>`` (docs/fhir.md#encounter).
"""

from __future__ import annotations

from typing import Any

from devices.models import Device, DeviceKind
from patients.models import Patient
from ukcore import codes
from ukcore.codes import Code, concept
from ukcore.resources.common import finish, instant, reference

# The one device type UK Core publishes a concept for (its sphygmomanometer example); the others
# are named in text (docs/fhir.md#codes).
DEVICE_TYPES = {
    DeviceKind.BP_MONITOR: Code(
        codes.SNOMED, "466086009", "Automatic-inflation electronic sphygmomanometer, portable, arm/wrist"
    )
}


def encounter_id(patient: Patient) -> str:
    return f"stay-{patient.pk}"


def flag_id(patient: Patient) -> str:
    return f"virtual-ward-{patient.pk}"


def _stay_changed(patient: Patient) -> Any:
    return patient.discharged_at or patient.admitted_at


def _period(patient: Patient) -> dict[str, str]:
    period = {"start": instant(patient.admitted_at)}
    if patient.discharged_at is not None:
        period["end"] = instant(patient.discharged_at)
    return period


def encounter_resource(patient: Patient) -> dict[str, Any]:
    ward = patient.ward
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": encounter_id(patient),
        "identifier": [{"system": codes.STAY_ID, "value": encounter_id(patient)}],
        "status": "in-progress" if patient.discharged_at is None else "finished",
        "class": codes.HOME_HEALTH.coding(),
        "type": [{"text": f"Virtual ward stay ({ward.get_pathway_display()})"}],
        "subject": reference("Patient", patient.pk, patient.name),
        "period": _period(patient),
        "serviceType": {"text": ward.name},
    }
    return finish(resource, profile="Encounter", last_updated=_stay_changed(patient))


def flag_resource(patient: Patient) -> dict[str, Any]:
    ward = patient.ward
    text = f"Patient is on a virtual ward: {ward.name}" + (f", telephone {ward.phone}" if ward.phone else "")
    resource: dict[str, Any] = {
        "resourceType": "Flag",
        "id": flag_id(patient),
        # Shown while the stay is open; afterwards it stays readable, inactive, with its period.
        "status": "active" if patient.discharged_at is None else "inactive",
        "category": [concept(codes.ADMIN_FLAG)],
        "code": concept(codes.VIRTUAL_WARD_FLAG, text=text),
        "subject": reference("Patient", patient.pk, patient.name),
        "period": _period(patient),
        "encounter": reference("Encounter", encounter_id(patient)),
    }
    return finish(resource, profile="Flag", last_updated=_stay_changed(patient))


def device_resource(device: Device) -> dict[str, Any]:
    coded = DEVICE_TYPES.get(device.kind)
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "id": str(device.pk),
        "identifier": [
            {"system": codes.DEVICE_SERIAL, "value": device.serial},
            {"system": codes.DEVICE_ID, "value": device.device_id},
        ],
        "status": "inactive" if device.revoked_at is not None or device.patient_id is None else "active",
        "serialNumber": device.serial,
        "deviceName": [{"name": f"{device.get_kind_display()} {device.serial}", "type": "user-friendly-name"}],
        "type": concept(coded, text=device.get_kind_display()) if coded else {"text": device.get_kind_display()},
    }
    if device.patient_id is not None:
        resource["patient"] = reference("Patient", device.patient_id)
    moments = [m for m in (device.paired_at, device.revoked_at, device.credentials_issued_at) if m is not None]
    last = max(moments) if moments else device.patient.admitted_at if device.patient_id else None
    return finish(resource, profile="Device", last_updated=last or _epoch())


def practitioner_resource(user: Any) -> dict[str, Any]:
    name: dict[str, Any] = {"text": user.get_full_name() or user.get_username()}
    if user.last_name:
        name["family"] = user.last_name
    if user.first_name:
        name["given"] = [user.first_name]
    resource = {"resourceType": "Practitioner", "id": str(user.pk), "active": user.is_active, "name": [name]}
    return finish(resource, profile="Practitioner", last_updated=user.date_joined)


def _epoch() -> Any:
    from datetime import UTC, datetime

    return datetime(1970, 1, 1, tzinfo=UTC)
