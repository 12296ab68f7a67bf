"""The stay and what goes with it: Encounter, the virtual-ward Flag, Device, Practitioner.

Each stay on a virtual ward (``patients.models.Stay``: one per admission, a readmission is a
new one) is an Encounter ``stay-<stay id>``, and has a Flag ``virtual-ward-<stay id>`` that is
active while the stay is open (docs/fhir.md#resources-and-profiles).
"""

from __future__ import annotations

from typing import Any

from devices.models import Device, DeviceKind
from patients.models import Stay
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


def encounter_id(stay: Stay) -> str:
    return f"stay-{stay.pk}"


def flag_id(stay: Stay) -> str:
    return f"virtual-ward-{stay.pk}"


def stay_changed(stay: Stay) -> Any:
    return stay.discharged_at or stay.admitted_at


def _period(stay: Stay) -> dict[str, str]:
    period = {"start": instant(stay.admitted_at)}
    if stay.discharged_at is not None:
        period["end"] = instant(stay.discharged_at)
    return period


def encounter_resource(stay: Stay) -> dict[str, Any]:
    patient = stay.patient
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": encounter_id(stay),
        "identifier": [{"system": codes.STAY_ID, "value": str(stay.pk)}],
        "status": "in-progress" if stay.discharged_at is None else "finished",
        "class": codes.HOME_HEALTH.coding(),
        "type": [{"text": f"Virtual ward stay ({stay.get_pathway_display()}, {stay.get_direction_display()})"}],
        "serviceType": {"text": stay.ward.name},
        "subject": reference("Patient", patient.pk, patient.name),
        "period": _period(stay),
    }
    if stay.reason:
        resource["reasonCode"] = [{"text": stay.reason}]
    hospitalization: dict[str, Any] = {"admitSource": {"text": _referral(stay)}}
    if stay.is_readmission:
        hospitalization["reAdmission"] = {"text": "Readmission within 30 days of a previous stay"}
    if stay.outcome:
        outcome = stay.get_outcome_display() + (f": {stay.destination}" if stay.destination else "")
        hospitalization["dischargeDisposition"] = {"text": outcome}
    resource["hospitalization"] = hospitalization
    return finish(resource, profile="Encounter", last_updated=stay_changed(stay))


def _referral(stay: Stay) -> str:
    return stay.get_referral_source_display() + (f" ({stay.referrer})" if stay.referrer else "")


def flag_resource(stay: Stay) -> dict[str, Any]:
    ward, patient = stay.ward, stay.patient
    text = f"Patient is on a virtual ward: {ward.name}" + (f", telephone {ward.phone}" if ward.phone else "")
    resource: dict[str, Any] = {
        "resourceType": "Flag",
        "id": flag_id(stay),
        # Shown while the stay is open; afterwards it stays readable, inactive, with its period.
        "status": "active" if stay.discharged_at is None else "inactive",
        "category": [concept(codes.ADMIN_FLAG)],
        "code": concept(codes.VIRTUAL_WARD_FLAG, text=text),
        "subject": reference("Patient", patient.pk, patient.name),
        "period": _period(stay),
        "encounter": reference("Encounter", encounter_id(stay)),
    }
    return finish(resource, profile="Flag", last_updated=stay_changed(stay))


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
    return finish(resource, profile="Device", last_updated=max(moments) if moments else _epoch())


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
