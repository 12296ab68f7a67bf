"""Readings and scores as UK Core Observations.

* One stored reading is one Observation, with the profile its vital sign has in UK Core, except
  blood pressure: a systolic and a diastolic taken together (same patient, same time, same
  device message or person) are one panel, 85354-9, with a component each, as
  UKCore-Observation-VitalSigns-BloodPressure requires. The panel's id is ``bp-<id of its first
  reading>`` (the systolic when there is one).
* A NEWS2 score is UKCore-Observation-EarlyWarningTotalScore with a component per parameter's
  sub-score, derived from the readings it was built from; a missing parameter's component says
  why it has no value, and an incomplete score says so in its note.
"""

from __future__ import annotations

from typing import Any

from patients.models import Observation, VitalType
from scoring.models import EarlyWarningScore
from ukcore import codes
from ukcore.codes import Code, concept
from ukcore.resources.common import finish, instant, reference

# type -> (profile, codes, human unit); UCUM codes are the stored units (devices/protocol.py).
QUANTITIES: dict[str, tuple[str, tuple[Code, ...], str]] = {
    VitalType.RESPIRATORY_RATE: ("RespirationRate", codes.RESPIRATORY_RATE, "breaths/minute"),
    VitalType.SPO2: ("OxygenSaturation", codes.SPO2, "%"),
    VitalType.HEART_RATE: ("HeartRate", codes.HEART_RATE, "beats/minute"),
    VitalType.TEMPERATURE: ("BodyTemperature", codes.TEMPERATURE, "degrees C"),
    VitalType.WEIGHT: ("BodyWeight", codes.WEIGHT, "kg"),
    VitalType.O2_FLOW_RATE: ("InspiredOxygen", codes.O2_FLOW_RATE, "L/min"),
}
BLOOD_PRESSURE_TYPES = (VitalType.SYSTOLIC_BP, VitalType.DIASTOLIC_BP)
NEWS2_PREFIX = "news2-"
PANEL_PREFIX = "bp-"


def fhir_id(observation: Observation) -> str:
    """The id a stored reading is served under (a blood-pressure reading: its panel's)."""
    return f"{PANEL_PREFIX}{observation.pk}" if observation.type in BLOOD_PRESSURE_TYPES else str(observation.pk)


def observation_resource(observation: Observation, partner: Observation | None = None) -> dict[str, Any]:
    """``partner``: for a systolic reading, the diastolic taken with it (and the other way round)."""
    if observation.type in BLOOD_PRESSURE_TYPES:
        return blood_pressure_resource(observation, partner)
    kind = observation.type
    resource = _base(observation, str(observation.pk))
    if kind in QUANTITIES:
        profile, coded, unit = QUANTITIES[kind]
        category = codes.THERAPY_CATEGORY if kind == VitalType.O2_FLOW_RATE else codes.VITAL_SIGNS_CATEGORY
        resource.update(category=[concept(category)], code=concept(*coded, text=observation.get_type_display()))
        resource.update(_quantity(observation.value, unit, observation.unit))
    elif kind == VitalType.CONSCIOUSNESS:
        profile = "ACVPU"
        resource.update(category=[concept(codes.SURVEY_CATEGORY)], code=concept(codes.ACVPU))
        level = codes.ACVPU_VALUES.get(observation.code)
        if level is not None:
            resource["valueCodeableConcept"] = concept(level)
        else:
            resource["dataAbsentReason"] = concept(_absent("error", "Error"), text="Unreadable ACVPU level")
    elif kind == VitalType.ON_OXYGEN:
        # InspiredOxygen: the code itself says air or oxygen (ValueSet-UKCore-InspiredOxygen).
        profile = "InspiredOxygen"
        said = codes.ON_OXYGEN if observation.value else codes.ROOM_AIR
        resource.update(category=[concept(codes.THERAPY_CATEGORY)], code=concept(said, text=said.display))
    else:  # a fall: an event, not a vital sign; no national code fits (fhir.codes.FALL)
        profile = "Observation"
        resource.update(code=concept(codes.FALL, text="Fall detected"), valueBoolean=bool(observation.value))
    return finish(_ordered(resource), profile=profile, last_updated=observation.received_at)


def blood_pressure_resource(first: Observation, partner: Observation | None) -> dict[str, Any]:
    readings = {first.type: first}
    if partner is not None:
        readings[partner.type] = partner
    systolic, diastolic = readings.get(VitalType.SYSTOLIC_BP), readings.get(VitalType.DIASTOLIC_BP)
    anchor = systolic or first
    resource = _base(anchor, f"{PANEL_PREFIX}{anchor.pk}")
    resource.update(
        category=[concept(codes.VITAL_SIGNS_CATEGORY)], code=concept(*codes.BLOOD_PRESSURE, text="Blood pressure")
    )
    resource["component"] = [
        _pressure(codes.SYSTOLIC, systolic, "Systolic blood pressure"),
        _pressure(codes.DIASTOLIC, diastolic, "Diastolic blood pressure"),
    ]
    received = max(reading.received_at for reading in readings.values())
    return finish(_ordered(resource), profile="BloodPressure", last_updated=received)


def _pressure(coded: tuple[Code, ...], reading: Observation | None, text: str) -> dict[str, Any]:
    component: dict[str, Any] = {"code": concept(*coded, text=text)}
    if reading is None:
        # Devices send the pair together; one alone is shown with the other marked absent.
        component["dataAbsentReason"] = concept(_absent("not-performed", "Not Performed"))
        return component
    component.update(_quantity(reading.value, "mmHg", reading.unit))
    return component


def _base(observation: Observation, resource_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": resource_id,
        "status": "final",
        "subject": _subject(observation.patient_id, getattr(observation, "patient", None)),
        "effectiveDateTime": instant(observation.measured_at),
        "issued": instant(observation.received_at),
    }
    if observation.device_id is not None:
        resource["device"] = reference("Device", observation.device_id)
    if observation.entered_by_id is not None:
        resource["performer"] = [reference("Practitioner", observation.entered_by_id)]
    if observation.is_late:
        resource["note"] = [{"text": "Arrived late: kept on the device during a gap in its connection."}]
    return resource


def _subject(patient_id: int, patient: Any) -> dict[str, Any]:
    subject: dict[str, Any] = reference("Patient", patient_id)
    if patient is not None:
        subject["identifier"] = {"system": codes.NHS_NUMBER, "value": patient.nhs_number}
    return subject


_ORDER = (
    "resourceType", "id", "status", "category", "code", "subject", "effectiveDateTime", "issued", "performer",
    "valueQuantity", "valueCodeableConcept", "valueBoolean", "dataAbsentReason", "note", "device",
    "derivedFrom", "component",
)  # fmt: skip


def _ordered(resource: dict[str, Any]) -> dict[str, Any]:
    # The order the R4 specification lists Observation's elements in, for readers' sake.
    return {key: resource[key] for key in _ORDER if key in resource}


def _quantity(value: float | None, unit: str, ucum: str) -> dict[str, Any]:
    if value is None:
        return {"dataAbsentReason": concept(_absent("unknown", "Unknown"))}
    number = int(value) if float(value).is_integer() else value
    return {"valueQuantity": {"value": number, "unit": unit, "system": codes.UCUM, "code": ucum}}


def _absent(code: str, display: str) -> Code:
    return Code(codes.DATA_ABSENT_REASON, code, display)


# --- NEWS2 ------------------------------------------------------------------------------------

PARAMETER_NAMES = {
    "respiratory_rate": "Respiration rate",
    "spo2": "SpO2",
    "on_oxygen": "Air or oxygen",
    "systolic_bp": "Systolic blood pressure",
    "heart_rate": "Pulse",
    "consciousness": "Consciousness",
    "temperature": "Temperature",
}


def score_resource(score: EarlyWarningScore, reading_types: dict[int, str] | None = None) -> dict[str, Any]:
    """``reading_types``: observation id -> type, to point at a blood-pressure reading's panel."""
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"{NEWS2_PREFIX}{score.pk}",
        "status": "final",
        "category": [concept(codes.SURVEY_CATEGORY)],
        "code": concept(codes.NEWS2_TOTAL, text="NEWS2"),
        "subject": _subject(score.patient_id, getattr(score, "patient", None)),
        "effectiveDateTime": instant(score.as_of),
        "issued": instant(score.computed_at),
        "valueQuantity": {"value": score.total, "unit": "score", "system": codes.UCUM, "code": codes.SCORE_UNIT},
        "note": [{"text": _score_note(score)}],
    }
    derived = []
    components = []
    for parameter, name in PARAMETER_NAMES.items():
        sub = (score.sub_scores or {}).get(parameter) or {}
        components.append(_sub_score_component(parameter, name, sub, score.spo2_scale))
        observation_id = sub.get("observation_id") if sub.get("score") is not None else None
        if observation_id is not None:
            kind = (reading_types or {}).get(observation_id, parameter)
            target = f"{PANEL_PREFIX}{observation_id}" if kind in BLOOD_PRESSURE_TYPES else str(observation_id)
            derived.append(reference("Observation", target, name))
    if derived:
        resource["derivedFrom"] = derived
    resource["component"] = components
    return finish(_ordered(resource), profile="EarlyWarningScore", last_updated=score.computed_at)


def _sub_score_component(parameter: str, name: str, sub: dict[str, Any], scale: int) -> dict[str, Any]:
    key = "spo2_scale_2" if parameter == "spo2" and scale == 2 else parameter
    component: dict[str, Any] = {"code": concept(codes.NEWS2_SUB_SCORES[key], text=f"{name} score")}
    if sub.get("score") is None:
        # Never a silent 0: the parameter was missing or stale, so it scored nothing.
        component["dataAbsentReason"] = concept(
            _absent("not-performed", "Not Performed"), text=f"No current {name.lower()} reading"
        )
    else:
        component["valueQuantity"] = {
            "value": sub["score"],
            "unit": "score",
            "system": codes.UCUM,
            "code": codes.SCORE_UNIT,
        }
    return component


def _score_note(score: EarlyWarningScore) -> str:
    parts = [f"NEWS2 {score.total}, {score.get_risk_display().lower()} risk, SpO2 on Scale {score.spo2_scale}."]
    if not score.complete:
        absent = dict.fromkeys([*score.missing, *score.stale])
        missing = ", ".join(PARAMETER_NAMES.get(name, name) for name in absent)
        parts.append(f"Incomplete: no current reading of {missing}; the total and risk are lower bounds.")
    if score.clinical_response:
        parts.append(f"Clinical response: {score.clinical_response}")
    return " ".join(parts)
