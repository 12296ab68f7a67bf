"""What a plausible vital sign looks like, for readings that people rather than devices enter.

The table follows the device protocol's observation table (docs/device-protocol.md and
/work/shared/spec/device-protocol-v1.md) so that a reading typed in during a phone or video
call is held to exactly the same ranges and units as one a device sends; a test parses both
ways at every boundary to keep the two in step. It also carries the LOINC code and display
used when an observation is shared as FHIR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from devices.protocol import CONSCIOUSNESS_CODES

NUMBER, BOOLEAN, TRUE_ONLY, ACVPU = "number", "boolean", "true", "acvpu"


@dataclass(frozen=True)
class VitalRule:
    kind: str
    units: tuple[str, ...]  # the first is the unit the value is stored in; empty: no unit
    low: float = 0
    high: float = 0
    loinc: str | None = None
    display: str = ""


RULES: Final[dict[str, VitalRule]] = {
    "respiratory_rate": VitalRule(NUMBER, ("/min",), 1, 80, "9279-1", "Respiratory rate"),
    "spo2": VitalRule(NUMBER, ("%",), 50, 100, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
    # The protocol gives the oxygen-flow code for "on oxygen"; we keep it so both halves of
    # the oxygen reading share the code the device makers integrate against.
    "on_oxygen": VitalRule(BOOLEAN, (), loinc="3151-8", display="Inhaled oxygen flow rate"),
    "o2_flow_rate": VitalRule(NUMBER, ("L/min",), 0, 60, "3151-8", "Inhaled oxygen flow rate"),
    "systolic_bp": VitalRule(NUMBER, ("mm[Hg]",), 40, 300, "8480-6", "Systolic blood pressure"),
    "diastolic_bp": VitalRule(NUMBER, ("mm[Hg]",), 20, 200, "8462-4", "Diastolic blood pressure"),
    "heart_rate": VitalRule(NUMBER, ("/min",), 20, 300, "8867-4", "Heart rate"),
    # The range is judged in °C, after a Fahrenheit reading has been converted.
    "temperature": VitalRule(NUMBER, ("Cel", "[degF]"), 25, 45, "8310-5", "Body temperature"),
    "consciousness": VitalRule(ACVPU, (), loinc="80288-4", display="Level of consciousness"),
    "weight": VitalRule(NUMBER, ("kg",), 20, 350, "29463-7", "Body weight"),
    "fall_detected": VitalRule(TRUE_ONLY, (), display="Fall detected"),
}

CONSCIOUSNESS_NAMES: Final[dict[str, str]] = {
    "A": "Alert",
    "C": "New confusion",
    "V": "Responds to voice",
    "P": "Responds to pain",
    "U": "Unresponsive",
}


class VitalValueError(ValueError):
    """A reading that cannot be stored; ``field`` names the input that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CleanVital:
    value: float | None  # booleans as 1.0 / 0.0, like device readings
    code: str  # the ACVPU letter for consciousness, else empty
    unit: str  # the stored unit: °C for any temperature


def clean_vital(vital_type: str, value: object, unit: str | None = None) -> CleanVital:
    """Check one reading against the protocol table and return it in its stored form.

    ``unit`` may be omitted for the type's usual unit. Raises VitalValueError naming the
    field (``type``, ``value`` or ``unit``) and the reason.
    """
    rule = RULES.get(vital_type)
    if rule is None:
        raise VitalValueError("type", f"Unknown vital sign type {vital_type!r}; expected one of {', '.join(RULES)}.")
    if value is None:
        raise VitalValueError("value", f"A {vital_type} reading needs a value.")
    stored_unit = _clean_unit(vital_type, rule, unit)
    if rule.kind == NUMBER:
        number = _clean_number(vital_type, value)
        if stored_unit == "[degF]":
            number, stored_unit = round((number - 32) * 5 / 9, 2), rule.units[0]
        if not rule.low <= number <= rule.high:
            bounds = f"{rule.low}-{rule.high} {rule.units[0]}"
            given = f"{value} [degF] ({number} Cel)" if unit == "[degF]" else f"{value}"
            raise VitalValueError("value", f"{vital_type} value {given} is outside the plausible range {bounds}.")
        return CleanVital(value=float(number), code="", unit=stored_unit)
    return _clean_non_number(vital_type, rule, value)


def _clean_unit(vital_type: str, rule: VitalRule, unit: str | None) -> str:
    if not unit:
        return rule.units[0] if rule.units else ""
    if not rule.units:
        raise VitalValueError("unit", f"{vital_type} takes no unit (got {unit!r}).")
    if unit not in rule.units:
        raise VitalValueError("unit", f"{vital_type} unit {unit!r} is not accepted; use {' or '.join(rule.units)}.")
    return unit


def _clean_number(vital_type: str, value: object) -> float:
    # bool is a subclass of int, but `true` as a pulse is a mistake, not 1 beat a minute.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VitalValueError("value", f"{vital_type} value must be a number (got {value!r}).")
    if not math.isfinite(value):
        raise VitalValueError("value", f"{vital_type} value must be a finite number.")
    return float(value)


def _clean_non_number(vital_type: str, rule: VitalRule, value: object) -> CleanVital:
    if rule.kind == BOOLEAN:
        if not isinstance(value, bool):
            raise VitalValueError("value", f"{vital_type} value must be true or false (got {value!r}).")
        return CleanVital(value=1.0 if value else 0.0, code="", unit="")
    if rule.kind == TRUE_ONLY:
        # A fall is an event: it is reported when it happens, never "no fall".
        if value is not True:
            raise VitalValueError("value", f"{vital_type} value must be true: it records that a fall happened.")
        return CleanVital(value=1.0, code="", unit="")
    # Exactly the protocol's capitals, so a manual and a device reading read the same.
    if not isinstance(value, str) or value not in CONSCIOUSNESS_CODES:
        raise VitalValueError("value", f"{vital_type} value must be one of A, C, V, P, U (got {value!r}).")
    return CleanVital(value=None, code=value, unit="")
