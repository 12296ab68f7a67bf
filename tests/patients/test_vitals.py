"""Hand-entered readings are held to exactly the device protocol's types, units and ranges."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from devices.protocol import parse_obs
from patients.vitals import NUMBER, RULES, VitalValueError, clean_vital

NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def device_accepts(vital_type: str, value: object, unit: str | None) -> bool:
    item = {"type": vital_type, "value": value, "measured_at": "2026-11-23T10:30:00Z"}
    if unit is not None:
        item["unit"] = unit
    message = parse_obs(json.dumps({"msg_id": "m1", "observations": [item]}).encode(), received_at=NOW)
    return len(message.observations) == 1


def manual_accepts(vital_type: str, value: object, unit: str | None) -> bool:
    try:
        clean_vital(vital_type, value, unit)
    except VitalValueError:
        return False
    return True


def _boundary_cases():
    for vital_type, rule in RULES.items():
        if rule.kind != NUMBER:
            continue
        for value in (rule.low, rule.high, rule.low - 0.01, rule.high + 0.01, (rule.low + rule.high) / 2):
            yield pytest.param(vital_type, value, rule.units[0], id=f"{vital_type}={value}")
        yield pytest.param(vital_type, True, rule.units[0], id=f"{vital_type}=true")
        yield pytest.param(vital_type, "70", rule.units[0], id=f"{vital_type}=string")
        yield pytest.param(vital_type, rule.high, "wrong", id=f"{vital_type}-wrong-unit")
    for value in (96.8, 77.0, 113.1, 113.0):
        yield pytest.param("temperature", value, "[degF]", id=f"temperature={value}F")
    for vital_type, value in [
        ("on_oxygen", True), ("on_oxygen", False), ("on_oxygen", 1), ("on_oxygen", "true"),
        ("fall_detected", True), ("fall_detected", False),
        ("consciousness", "A"), ("consciousness", "U"), ("consciousness", "a"), ("consciousness", "X"),
        ("consciousness", 1),
    ]:  # fmt: skip
        yield pytest.param(vital_type, value, None, id=f"{vital_type}={value!r}")


@pytest.mark.parametrize(("vital_type", "value", "unit"), list(_boundary_cases()))
def test_manual_entry_accepts_exactly_what_a_device_may_send(vital_type, value, unit):
    assert manual_accepts(vital_type, value, unit) == device_accepts(vital_type, value, unit)


def test_every_protocol_type_is_known_to_manual_entry():
    # given each type the device protocol lists, when a manual reading of it is cleaned,
    # then none is refused as an unknown type
    for vital_type in RULES:
        with pytest.raises(VitalValueError) as raised:
            clean_vital(vital_type, None)
        assert raised.value.field == "value"


def test_the_unit_may_be_left_out_and_the_protocol_unit_is_stored():
    assert clean_vital("spo2", 95).unit == "%"
    assert clean_vital("systolic_bp", 120, "").unit == "mm[Hg]"


def test_a_fahrenheit_temperature_is_stored_in_celsius():
    clean = clean_vital("temperature", 100.4, "[degF]")
    assert (clean.value, clean.unit) == (38.0, "Cel")


def test_booleans_and_acvpu_are_stored_like_device_readings():
    assert clean_vital("on_oxygen", True).value == 1.0
    assert clean_vital("on_oxygen", False).value == 0.0
    consciousness = clean_vital("consciousness", "V")
    assert (consciousness.value, consciousness.code) == (None, "V")


@pytest.mark.parametrize(
    ("vital_type", "value", "unit", "field", "words"),
    [
        ("blood_sugar", 5, None, "type", "Unknown vital sign type"),
        ("spo2", 150, None, "value", "outside the plausible range 50-100 %"),
        ("spo2", None, None, "value", "needs a value"),
        ("heart_rate", float("nan"), None, "value", "finite"),
        ("heart_rate", 70, "bpm", "unit", "use /min"),
        ("consciousness", "A", "none", "unit", "takes no unit"),
        ("temperature", 120, "[degF]", "value", "120 [degF] (48.89 Cel)"),
        ("fall_detected", False, None, "value", "must be true"),
    ],
)
def test_a_bad_reading_names_the_field_and_the_reason(vital_type, value, unit, field, words):
    with pytest.raises(VitalValueError) as raised:
        clean_vital(vital_type, value, unit)
    assert raised.value.field == field
    assert words in raised.value.message
