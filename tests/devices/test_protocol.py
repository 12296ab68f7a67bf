"""Device protocol v1 (docs/device-protocol.md): topics, obs and status parsing, ack and config."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.protocol import (
    MAX_PAYLOAD_BYTES,
    TOPIC_PREFIX,
    ItemRejection,
    MessageRejected,
    ObsMessage,
    ParsedObservation,
    StatusMessage,
    TopicRef,
    ack_payload,
    ack_topic,
    config_payload,
    config_topic,
    obs_topic,
    parse_obs,
    parse_status,
    parse_topic,
    status_topic,
)

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"
MANIFEST = json.loads((PAYLOADS / "manifest.json").read_text())
RECEIVED_AT = datetime(2026, 11, 23, 10, 31, 5, tzinfo=UTC)
MEASURED_AT = "2026-11-23T10:30:55Z"
MSG_ID = "3f1c9a7e-2b6d-4c1e-9f0a-1d2e3f4a5b6c"

# One valid reading of every type, in the unit the platform stores.
GOOD_ITEMS: dict[str, dict[str, Any]] = {
    "respiratory_rate": {"value": 18, "unit": "/min"},
    "spo2": {"value": 96, "unit": "%"},
    "on_oxygen": {"value": True},
    "o2_flow_rate": {"value": 2, "unit": "L/min"},
    "systolic_bp": {"value": 128, "unit": "mm[Hg]"},
    "diastolic_bp": {"value": 79, "unit": "mm[Hg]"},
    "heart_rate": {"value": 88, "unit": "/min"},
    "temperature": {"value": 37.1, "unit": "Cel"},
    "consciousness": {"value": "A"},
    "weight": {"value": 82.4, "unit": "kg"},
    "fall_detected": {"value": True},
}

# type, unit, low, high: the plausible ranges of the spec's table.
RANGES = [
    ("respiratory_rate", "/min", 1, 80),
    ("spo2", "%", 50, 100),
    ("o2_flow_rate", "L/min", 0, 60),
    ("systolic_bp", "mm[Hg]", 40, 300),
    ("diastolic_bp", "mm[Hg]", 20, 200),
    ("heart_rate", "/min", 20, 300),
    ("temperature", "Cel", 25, 45),
    ("weight", "kg", 20, 350),
]


def item(obs_type: str, **fields: Any) -> dict[str, Any]:
    """A valid observation of obs_type; a field given as ... is left out."""
    out = {"type": obs_type, **GOOD_ITEMS[obs_type], "measured_at": MEASURED_AT, **fields}
    return {key: value for key, value in out.items() if value is not ...}


def message(**fields: Any) -> dict[str, Any]:
    """A valid obs message; a field given as ... is left out."""
    out = {"msg_id": MSG_ID, "sent_at": "2026-11-23T10:31:02Z", "battery": 76, "observations": [item("heart_rate")]}
    out.update(fields)
    return {key: value for key, value in out.items() if value is not ...}


def encode(doc: object) -> bytes:
    return json.dumps(doc).encode()


def parse_one(raw_item: object, received_at: datetime = RECEIVED_AT) -> ParsedObservation | str:
    """Parse a one-item message; return the observation, or the item's rejection reason."""
    result = parse_obs(encode(message(observations=[raw_item])), received_at=received_at)
    if result.rejections:
        assert not result.observations
        return result.rejections[0].reason
    return result.observations[0]


def rejection_of(payload: bytes) -> MessageRejected:
    with pytest.raises(MessageRejected) as caught:
        parse_obs(payload, received_at=RECEIVED_AT)
    return caught.value


# --- topics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["obs", "status", "ack", "config"])
def test_a_protocol_topic_is_read_into_device_and_channel(channel: str) -> None:
    assert parse_topic(f"vw/v1/devices/dev-42/{channel}") == TopicRef(device_id="dev-42", channel=channel)


@pytest.mark.parametrize(
    "topic",
    [
        "vw/v1/devices/dev-42",
        "vw/v1/devices/dev-42/",
        "vw/v1/devices//obs",
        "vw/v1/devices/+/obs",
        "vw/v1/devices/#",
        "vw/v1/devices/dev+1/obs",
        "vw/v1/devices/dev#1/obs",
        "vw/v1/devices/dev-42/obs/extra",
        "vw/v1/devices/dev-42/obs/",
        "vw/v1/devices/dev-42/+",
        "vw/v1/devices/dev-42/telemetry",
        "vw/v1/devices/dev-42/OBS",
        "vw/v1/devices/a/b/obs",
        "/vw/v1/devices/dev-42/obs",
        "vw/v2/devices/dev-42/obs",
        "VW/v1/devices/dev-42/obs",
        "other/dev-42/obs",
        "",
    ],
)
def test_anything_that_is_not_exactly_a_protocol_topic_is_not_recognised(topic: str) -> None:
    assert parse_topic(topic) is None


def test_topic_builders_give_the_topics_of_the_spec_and_read_back() -> None:
    assert obs_topic("dev-42") == "vw/v1/devices/dev-42/obs"
    assert status_topic("dev-42") == "vw/v1/devices/dev-42/status"
    assert ack_topic("dev-42") == "vw/v1/devices/dev-42/ack"
    assert config_topic("dev-42") == "vw/v1/devices/dev-42/config"
    assert parse_topic(ack_topic("dev-42")) == TopicRef("dev-42", "ack")
    assert TOPIC_PREFIX == "vw/v1/devices/"


@pytest.mark.parametrize("device_id", ["", "a/b", "+", "dev#"])
def test_a_topic_cannot_be_built_for_an_id_that_is_not_one_level(device_id: str) -> None:
    with pytest.raises(ValueError):
        obs_topic(device_id)


# --- a valid message ------------------------------------------------------------------------


def test_the_spec_example_is_accepted_whole() -> None:
    result = parse_obs((PAYLOADS / "obs_spec_example.json").read_bytes(), received_at=RECEIVED_AT)

    assert result == ObsMessage(
        msg_id=MSG_ID,
        sent_at=datetime(2026, 11, 23, 10, 31, 2, tzinfo=UTC),
        battery=76,
        observations=(
            ParsedObservation(
                0, "heart_rate", 88.0, None, "/min", datetime(2026, 11, 23, 10, 30, 55, tzinfo=UTC), "8867-4"
            ),
            ParsedObservation(1, "spo2", 93.0, None, "%", datetime(2026, 11, 23, 10, 30, 55, tzinfo=UTC), "59408-5"),
        ),
        rejections=(),
    )


@pytest.mark.parametrize(
    ("obs_type", "value", "code", "unit", "loinc"),
    [
        ("respiratory_rate", 18.0, None, "/min", "9279-1"),
        ("spo2", 96.0, None, "%", "59408-5"),
        ("on_oxygen", 1.0, None, "", "3151-8"),
        ("o2_flow_rate", 2.0, None, "L/min", "3151-8"),
        ("systolic_bp", 128.0, None, "mm[Hg]", "8480-6"),
        ("diastolic_bp", 79.0, None, "mm[Hg]", "8462-4"),
        ("heart_rate", 88.0, None, "/min", "8867-4"),
        ("temperature", 37.1, None, "Cel", "8310-5"),
        ("consciousness", None, "A", "", "80288-4"),
        ("weight", 82.4, None, "kg", "29463-7"),
        ("fall_detected", 1.0, None, "", None),
    ],
)
def test_every_type_is_stored_with_its_canonical_unit_and_loinc(
    obs_type: str, value: float | None, code: str | None, unit: str, loinc: str | None
) -> None:
    parsed = parse_one(item(obs_type))

    assert isinstance(parsed, ParsedObservation)
    assert (parsed.type, parsed.value, parsed.code, parsed.unit, parsed.loinc) == (obs_type, value, code, unit, loinc)
    assert type(parsed.value) is (float if value is not None else type(None))


def test_on_oxygen_false_is_stored_as_zero() -> None:
    parsed = parse_one(item("on_oxygen", value=False))
    assert isinstance(parsed, ParsedObservation)
    assert parsed.value == 0.0


@pytest.mark.parametrize("letter", ["A", "C", "V", "P", "U"])
def test_every_acvpu_letter_is_accepted_as_a_code(letter: str) -> None:
    parsed = parse_one(item("consciousness", value=letter))
    assert isinstance(parsed, ParsedObservation)
    assert (parsed.code, parsed.value) == (letter, None)


@pytest.mark.parametrize("unit", [..., None, ""])
def test_a_type_without_a_unit_accepts_no_unit_null_or_empty(unit: object) -> None:
    for obs_type in ("on_oxygen", "consciousness", "fall_detected"):
        parsed = parse_one(item(obs_type, unit=unit))
        assert isinstance(parsed, ParsedObservation), parsed
        assert parsed.unit == ""


def test_sent_at_and_battery_are_optional_and_null_counts_as_absent() -> None:
    for fields in ({"sent_at": ..., "battery": ...}, {"sent_at": None, "battery": None}):
        result = parse_obs(encode(message(**fields)), received_at=RECEIVED_AT)
        assert (result.sent_at, result.battery) == (None, None)
        assert len(result.observations) == 1


@pytest.mark.parametrize("battery", [0, 100])
def test_battery_accepts_both_ends_of_0_to_100(battery: int) -> None:
    assert parse_obs(encode(message(battery=battery)), received_at=RECEIVED_AT).battery == battery


def test_unknown_keys_are_ignored_at_every_level() -> None:
    doc = message(firmware="2.1.0", observations=[item("spo2", probe="finger")])
    result = parse_obs(encode(doc), received_at=RECEIVED_AT)
    assert len(result.observations) == 1
    assert not result.rejections


def test_sent_at_is_normalised_to_utc() -> None:
    result = parse_obs(encode(message(sent_at="2026-11-23T11:31:02+01:00")), received_at=RECEIVED_AT)
    assert result.sent_at == datetime(2026, 11, 23, 10, 31, 2, tzinfo=UTC)
    assert result.sent_at is not None and result.sent_at.utcoffset() == timedelta(0)


def test_received_at_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_obs(encode(message()), received_at=datetime(2026, 11, 23, 10, 31, 5))  # naive on purpose


# --- whole-message rejections ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "payload is not valid JSON"),
        (b"not json", "payload is not valid JSON"),
        (b'{"msg_id": "a", "observations": [', "payload is not valid JSON"),
        (b'{"msg_id": "a"} {"msg_id": "b"}', "payload is not valid JSON"),
        (b"\xef\xbb\xbf" + encode(message()), "payload is not valid JSON"),
        (b'{"msg_id": "caf\xe9"}', "payload is not UTF-8"),
        (encode(message()).decode().encode("utf-16"), "payload is not UTF-8"),
        (b'{"msg_id": "a", "battery": NaN}', "payload contains NaN or Infinity, which JSON does not allow"),
        (b'{"msg_id": "a", "battery": Infinity}', "payload contains NaN or Infinity, which JSON does not allow"),
        (b'{"msg_id": "a", "battery": -Infinity}', "payload contains NaN or Infinity, which JSON does not allow"),
        (b'{"msg_id": "a", "msg_id": "b", "observations": []}', "payload has duplicate key 'msg_id'"),
        (b"[" * 5000 + b"]" * 5000, "payload is nested too deeply"),
        (b'{"msg_id": "a", "battery": ' + b"1" * 5000 + b"}", "payload contains a number with too many digits"),
        (b"[]", "payload is not a JSON object"),
        (b'"msg_id"', "payload is not a JSON object"),
        (b"null", "payload is not a JSON object"),
        (b"42", "payload is not a JSON object"),
        (encode(message(msg_id=...)), "msg_id missing"),
        (encode(message(msg_id=None)), "msg_id missing"),
        (encode(message(msg_id=12345)), "msg_id is not a string (got 12345)"),
        (encode(message(msg_id=True)), "msg_id is not a string (got true)"),
        (encode(message(msg_id=["a"])), "msg_id is not a string (got [...])"),
        (encode(message(msg_id="")), "msg_id must be 1-64 characters (got 0)"),
        (encode(message(msg_id="m" * 65)), "msg_id must be 1-64 characters (got 65)"),
        (encode(message(msg_id="a\u0000b")), "msg_id contains NUL or an unpaired surrogate"),
        (encode(message(msg_id="a\ud800b")), "msg_id contains NUL or an unpaired surrogate"),
    ],
)
def test_a_message_that_cannot_be_read_is_rejected_whole_without_a_msg_id(payload: bytes, reason: str) -> None:
    rejected = rejection_of(payload)
    assert (rejected.reason, rejected.msg_id) == (reason, None)
    assert str(rejected) == reason


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"observations": ...}, "observations missing"),
        ({"observations": None}, "observations missing"),
        ({"observations": {"type": "spo2"}}, "observations is not a list (got {...})"),
        ({"observations": "[]"}, "observations is not a list (got '[]')"),
        ({"observations": []}, "observations is empty"),
        ({"battery": True}, "battery must be an integer 0-100 (got true)"),
        ({"battery": False}, "battery must be an integer 0-100 (got false)"),
        ({"battery": -1}, "battery must be an integer 0-100 (got -1)"),
        ({"battery": 101}, "battery must be an integer 0-100 (got 101)"),
        ({"battery": 76.5}, "battery must be an integer 0-100 (got 76.5)"),
        ({"battery": 76.0}, "battery must be an integer 0-100 (got 76.0)"),
        ({"battery": "76"}, "battery must be an integer 0-100 (got '76')"),
        ({"sent_at": "2026-11-23T10:31:02"}, "sent_at '2026-11-23T10:31:02' has no offset or Z"),
        ({"sent_at": "yesterday"}, "sent_at 'yesterday' is not an RFC 3339 timestamp"),
        ({"sent_at": 1795862400}, "sent_at 1795862400 is not an RFC 3339 timestamp"),
        ({"sent_at": "2026-13-23T10:31:02Z"}, "sent_at '2026-13-23T10:31:02Z' is not a valid date and time"),
    ],
)
def test_a_message_with_wrong_top_level_fields_is_rejected_whole_with_its_msg_id(
    fields: dict[str, Any], reason: str
) -> None:
    rejected = rejection_of(encode(message(**fields)))
    assert (rejected.reason, rejected.msg_id) == (reason, MSG_ID)


def test_a_payload_of_exactly_64_kib_is_accepted() -> None:
    payload = (PAYLOADS / "obs_exactly_64kib.json").read_bytes()
    assert len(payload) == MAX_PAYLOAD_BYTES == 65536

    assert len(parse_obs(payload, received_at=RECEIVED_AT).observations) == 1


def test_a_payload_one_byte_over_64_kib_is_rejected_before_it_is_read() -> None:
    payload = (PAYLOADS / "obs_invalid_too_large.json").read_bytes()
    assert len(payload) == 65537

    assert rejection_of(payload).reason == "payload exceeds 65536 bytes"


def test_the_size_limit_counts_bytes_not_characters() -> None:
    doc = message(padding="")
    doc["padding"] = "é" * ((MAX_PAYLOAD_BYTES - len(encode(doc))) // 2 + 1)
    payload = json.dumps(doc, ensure_ascii=False).encode()
    assert len(payload.decode()) <= MAX_PAYLOAD_BYTES < len(payload)

    assert rejection_of(payload).reason == "payload exceeds 65536 bytes"


def test_500_observations_are_accepted_and_501_are_rejected_whole() -> None:
    accepted = parse_obs(encode(message(observations=[item("heart_rate")] * 500)), received_at=RECEIVED_AT)
    assert len(accepted.observations) == 500

    rejected = rejection_of(encode(message(observations=[item("heart_rate")] * 501)))
    assert rejected.reason == "observations has 501 items (at most 500)"


@pytest.mark.parametrize("msg_id", ["a", "m" * 64, "é" * 64, "😀" * 64, " "])
def test_a_msg_id_of_1_to_64_characters_is_accepted(msg_id: str) -> None:
    assert parse_obs(encode(message(msg_id=msg_id)), received_at=RECEIVED_AT).msg_id == msg_id


# --- per-item rejections --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw_item", "reason"),
    [
        ("heart_rate 88", "observation is not a JSON object (got 'heart_rate 88')"),
        ([1, 2], "observation is not a JSON object (got [...])"),
        (None, "observation is not a JSON object (got null)"),
        (88, "observation is not a JSON object (got 88)"),
        (item("spo2", type=...), "type missing"),
        (item("spo2", type=None), "type missing"),
        (item("spo2", type=7), "type is not a string (got 7)"),
        (item("spo2", type="foo"), "unknown type 'foo'"),
        (item("spo2", type="SpO2"), "unknown type 'SpO2'"),
        (item("spo2", type="x" * 100), f"unknown type '{'x' * 40}...'"),
        (item("spo2", type="a\u0000b"), "unknown type 'a\\u0000b'"),
        (item("spo2", value=...), "spo2 value missing"),
        (item("spo2", value=None), "spo2 value missing"),
        (item("spo2", value="93"), "spo2 value is not a number (got '93')"),
        (item("spo2", value=True), "spo2 value is not a number (got true)"),
        (item("heart_rate", value=False), "heart_rate value is not a number (got false)"),
        (item("weight", value=[82]), "weight value is not a number (got [...])"),
        (item("weight", value={"kg": 82}), "weight value is not a number (got {...})"),
        (item("on_oxygen", value=1), "on_oxygen value is not true or false (got 1)"),
        (item("on_oxygen", value="true"), "on_oxygen value is not true or false (got 'true')"),
        (item("on_oxygen", value=...), "on_oxygen value missing"),
        (item("fall_detected", value=False), "fall_detected value is not true (got false)"),
        (item("fall_detected", value=1), "fall_detected value is not true (got 1)"),
        (item("consciousness", value="a"), "consciousness value is not one of A C V P U (got 'a')"),
        (item("consciousness", value="Alert"), "consciousness value is not one of A C V P U (got 'Alert')"),
        (item("consciousness", value="N"), "consciousness value is not one of A C V P U (got 'N')"),
        (item("consciousness", value=1), "consciousness value is not one of A C V P U (got 1)"),
        (item("spo2", unit=...), "spo2 unit missing"),
        (item("spo2", unit=None), "spo2 unit missing"),
        (item("spo2", unit="percent"), "spo2 unit 'percent' not accepted (expected %)"),
        (item("spo2", unit=""), "spo2 unit '' not accepted (expected %)"),
        (item("spo2", unit=1), "spo2 unit 1 not accepted (expected %)"),
        (item("heart_rate", unit="bpm"), "heart_rate unit 'bpm' not accepted (expected /min)"),
        (item("respiratory_rate", unit="/s"), "respiratory_rate unit '/s' not accepted (expected /min)"),
        (item("o2_flow_rate", unit="l/min"), "o2_flow_rate unit 'l/min' not accepted (expected L/min)"),
        (item("systolic_bp", unit="mmHg"), "systolic_bp unit 'mmHg' not accepted (expected mm[Hg])"),
        (item("diastolic_bp", unit="kPa"), "diastolic_bp unit 'kPa' not accepted (expected mm[Hg])"),
        (item("temperature", unit="°C"), "temperature unit '°C' not accepted (expected Cel or [degF])"),
        (item("temperature", unit="cel"), "temperature unit 'cel' not accepted (expected Cel or [degF])"),
        (item("weight", unit="lb"), "weight unit 'lb' not accepted (expected kg)"),
        (item("on_oxygen", unit="L/min"), "on_oxygen unit 'L/min' not accepted (expected no unit)"),
        (item("fall_detected", unit="event"), "fall_detected unit 'event' not accepted (expected no unit)"),
        (item("heart_rate", measured_at=...), "measured_at missing"),
        (item("heart_rate", measured_at=None), "measured_at missing"),
        (
            item("heart_rate", measured_at="2026-11-23T10:30:55Z\n"),
            "measured_at '2026-11-23T10:30:55Z\\u000a' is not an RFC 3339 timestamp",
        ),
    ],
)
def test_a_bad_observation_is_rejected_with_a_reason(raw_item: object, reason: str) -> None:
    assert parse_one(raw_item) == reason


def test_the_value_kind_is_judged_before_the_unit_and_the_unit_before_the_range() -> None:
    assert parse_one(item("spo2", value="93", unit="percent")) == "spo2 value is not a number (got '93')"
    assert parse_one(item("spo2", value=150, unit="percent")) == "spo2 unit 'percent' not accepted (expected %)"
    assert parse_one(item("spo2", value=150, measured_at="now")) == "spo2 value 150 outside 50-100 %"


@pytest.mark.parametrize(("obs_type", "unit", "low", "high"), RANGES)
@pytest.mark.parametrize("edge", ["low", "high"])
def test_every_plausible_range_accepts_its_bounds(obs_type: str, unit: str, low: int, high: int, edge: str) -> None:
    bound = low if edge == "low" else high
    for value in (bound, float(bound)):
        parsed = parse_one(item(obs_type, value=value, unit=unit))
        assert isinstance(parsed, ParsedObservation), parsed
        assert parsed.value == bound


@pytest.mark.parametrize(
    ("obs_type", "unit", "low", "high", "value"),
    [
        (obs_type, unit, low, high, value)
        for obs_type, unit, low, high in RANGES
        for value in (low - 1, round(low - 0.1, 1), round(high + 0.1, 1), high + 1)
    ],
)
def test_every_plausible_range_rejects_just_outside_its_bounds(
    obs_type: str, unit: str, low: int, high: int, value: float
) -> None:
    assert parse_one(item(obs_type, value=value, unit=unit)) == f"{obs_type} value {value} outside {low}-{high} {unit}"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (1e308, "spo2 value 1e+308 outside 50-100 %"),
        (-0.5, "spo2 value -0.5 outside 50-100 %"),
        (10**30, "spo2 value 1000000000000000000000000000000 outside 50-100 %"),
        (10**100, f"spo2 value {'1' + '0' * 39}... outside 50-100 %"),
    ],
)
def test_huge_and_negative_values_are_out_of_range_and_printed_as_sent(value: float, reason: str) -> None:
    assert parse_one(item("spo2", value=value)) == reason


@pytest.mark.parametrize("literal", [b"1e400", b"-1e400"])
def test_a_number_that_overflows_to_infinity_is_rejected_for_that_item_only(literal: bytes) -> None:
    payload = encode(message(observations=[item("heart_rate", value="X"), item("spo2")])).replace(b'"X"', literal)

    result = parse_obs(payload, received_at=RECEIVED_AT)

    assert result.rejections == (ItemRejection(0, "heart_rate value is not a finite number"),)
    assert [obs.type for obs in result.observations] == ["spo2"]


def test_a_value_written_as_an_exponent_is_a_number() -> None:
    payload = encode(message(observations=[item("spo2", value="X")])).replace(b'"X"', b"9.3E1")
    assert parse_obs(payload, received_at=RECEIVED_AT).observations[0].value == 93.0


# --- temperature in Fahrenheit --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fahrenheit", "celsius"),
    [(77, 25.0), (98.6, 37.0), (100.4, 38.0), (102.2, 39.0), (95, 35.0), (113, 45.0)],
)
def test_a_fahrenheit_temperature_is_stored_in_celsius(fahrenheit: float, celsius: float) -> None:
    parsed = parse_one(item("temperature", value=fahrenheit, unit="[degF]"))

    assert isinstance(parsed, ParsedObservation), parsed
    assert (parsed.value, parsed.unit, parsed.loinc) == (celsius, "Cel", "8310-5")


@pytest.mark.parametrize(
    ("fahrenheit", "reason"),
    [
        (76.9, "temperature value 76.9 [degF] (24.94 Cel) outside 25-45 Cel"),
        (113.1, "temperature value 113.1 [degF] (45.06 Cel) outside 25-45 Cel"),
        (37, "temperature value 37 [degF] (2.78 Cel) outside 25-45 Cel"),
        (1e308, "temperature value 1e+308 [degF] (inf Cel) outside 25-45 Cel"),
        (10**400, f"temperature value {'1' + '0' * 39}... [degF] (inf Cel) outside 25-45 Cel"),
    ],
)
def test_a_fahrenheit_temperature_is_judged_in_celsius_after_conversion(fahrenheit: float, reason: str) -> None:
    assert parse_one(item("temperature", value=fahrenheit, unit="[degF]")) == reason


def test_a_celsius_reading_of_a_fahrenheit_fever_is_out_of_range_in_celsius() -> None:
    assert parse_one(item("temperature", value=101, unit="Cel")) == "temperature value 101 outside 25-45 Cel"


# --- measured_at ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("measured_at", "expected"),
    [
        ("2026-11-23T10:30:55Z", datetime(2026, 11, 23, 10, 30, 55, tzinfo=UTC)),
        ("2026-11-23t10:30:55z", datetime(2026, 11, 23, 10, 30, 55, tzinfo=UTC)),
        ("2026-11-23T11:30:55+01:00", datetime(2026, 11, 23, 10, 30, 55, tzinfo=UTC)),
        ("2026-11-23T05:30:55-05:00", datetime(2026, 11, 23, 10, 30, 55, tzinfo=UTC)),
        ("2026-11-23T10:30:55-00:00", datetime(2026, 11, 23, 10, 30, 55, tzinfo=UTC)),
        ("2026-11-23T10:30:55.5Z", datetime(2026, 11, 23, 10, 30, 55, 500000, tzinfo=UTC)),
        ("2026-11-23T10:30:55.123456789Z", datetime(2026, 11, 23, 10, 30, 55, 123456, tzinfo=UTC)),
        ("2026-11-24T10:00:55+23:30", datetime(2026, 11, 23, 10, 30, 55, tzinfo=UTC)),
    ],
)
def test_measured_at_accepts_rfc_3339_and_is_normalised_to_utc(measured_at: str, expected: datetime) -> None:
    parsed = parse_one(item("heart_rate", measured_at=measured_at))

    assert isinstance(parsed, ParsedObservation), parsed
    assert parsed.measured_at == expected
    assert parsed.measured_at.tzinfo is UTC


def test_a_leap_second_is_read_as_the_next_second() -> None:
    received_at = datetime(2027, 1, 1, 0, 0, 30, tzinfo=UTC)
    parsed = parse_one(item("heart_rate", measured_at="2026-12-31T23:59:60Z"), received_at=received_at)

    assert isinstance(parsed, ParsedObservation), parsed
    assert parsed.measured_at == datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("measured_at", "problem"),
    [
        ("2026-11-23T10:30:55", "has no offset or Z"),
        ("2026-11-23T10:30:55.5", "has no offset or Z"),
        ("2026-11-23 10:30:55Z", "is not an RFC 3339 timestamp"),
        ("2026-11-23T10:30Z", "is not an RFC 3339 timestamp"),
        ("2026-11-23T10Z", "is not an RFC 3339 timestamp"),
        ("2026-11-23", "is not an RFC 3339 timestamp"),
        ("20261123T103055Z", "is not an RFC 3339 timestamp"),
        ("2026-W47-1T10:30:55Z", "is not an RFC 3339 timestamp"),
        ("2026-11-23T10:30:55+01", "is not an RFC 3339 timestamp"),
        ("2026-11-23T10:30:55+0100", "is not an RFC 3339 timestamp"),
        ("2026-11-23T10:30:55.Z", "is not an RFC 3339 timestamp"),
        ("2026-11-23T10:30:55Z ", "is not an RFC 3339 timestamp"),
        (" 2026-11-23T10:30:55Z", "is not an RFC 3339 timestamp"),
        ("٢٠٢٦-11-23T10:30:55Z", "is not an RFC 3339 timestamp"),
        ("2026-11-23T10:30:55 UTC", "is not an RFC 3339 timestamp"),
        ("", "is not an RFC 3339 timestamp"),
        ("2026-02-30T10:30:55Z", "is not a valid date and time"),
        ("2026-11-23T25:30:55Z", "is not a valid date and time"),
        ("2026-11-23T10:61:55Z", "is not a valid date and time"),
        ("2026-11-23T10:30:55+24:00", "is not a valid date and time"),
    ],
)
def test_measured_at_that_is_not_rfc_3339_with_an_offset_is_rejected(measured_at: str, problem: str) -> None:
    assert parse_one(item("heart_rate", measured_at=measured_at)) == f"measured_at {measured_at!r} {problem}"


@pytest.mark.parametrize(("measured_at", "shown"), [(1795862400, "1795862400"), (True, "true"), (["x"], "[...]")])
def test_measured_at_that_is_not_a_string_is_rejected(measured_at: object, shown: str) -> None:
    assert parse_one(item("heart_rate", measured_at=measured_at)) == (
        f"measured_at {shown} is not an RFC 3339 timestamp"
    )


def rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (timedelta(minutes=5), None),
        (timedelta(minutes=5, microseconds=1), "measured_at is more than 5 minutes in the future"),
        (timedelta(hours=3), "measured_at is more than 5 minutes in the future"),
        (timedelta(0), None),
        (-timedelta(days=7), None),
        (-timedelta(days=7, microseconds=1), "measured_at is more than 7 days in the past"),
        (-timedelta(days=400), "measured_at is more than 7 days in the past"),
    ],
)
def test_measured_at_must_lie_between_7_days_ago_and_5_minutes_ahead_inclusive(
    offset: timedelta, reason: str | None
) -> None:
    parsed = parse_one(item("heart_rate", measured_at=rfc3339(RECEIVED_AT + offset)))

    if reason is None:
        assert isinstance(parsed, ParsedObservation), parsed
        assert parsed.measured_at == RECEIVED_AT + offset
    else:
        assert parsed == reason


def test_the_time_window_follows_received_at_in_any_time_zone_not_sent_at() -> None:
    received_in_new_york = RECEIVED_AT.astimezone(timezone(timedelta(hours=-5)))
    doc = message(sent_at="2020-01-01T00:00:00Z", observations=[item("heart_rate")])

    result = parse_obs(encode(doc), received_at=received_in_new_york)

    assert len(result.observations) == 1


# --- mixed messages -------------------------------------------------------------------------


def test_a_mixed_message_keeps_its_good_observations_in_order_and_reports_the_bad_ones() -> None:
    doc = message(observations=[item("heart_rate"), item("spo2", value=150), item("weight"), "junk"])

    result = parse_obs(encode(doc), received_at=RECEIVED_AT)

    assert [(obs.index, obs.type) for obs in result.observations] == [(0, "heart_rate"), (2, "weight")]
    assert result.rejections == (
        ItemRejection(1, "spo2 value 150 outside 50-100 %"),
        ItemRejection(3, "observation is not a JSON object (got 'junk')"),
    )


def test_identical_readings_in_one_message_are_both_kept_for_storage_to_deduplicate() -> None:
    result = parse_obs(encode(message(observations=[item("spo2"), item("spo2")])), received_at=RECEIVED_AT)
    assert [obs.index for obs in result.observations] == [0, 1]


def test_a_message_whose_every_observation_is_bad_is_still_a_message() -> None:
    result = parse_obs(encode(message(observations=[item("spo2", value=150)])), received_at=RECEIVED_AT)
    assert (result.msg_id, result.observations, len(result.rejections)) == (MSG_ID, (), 1)


def test_a_store_and_forward_batch_keeps_each_readings_own_time() -> None:
    payload = (PAYLOADS / "obs_late_store_and_forward.json").read_bytes()

    result = parse_obs(payload, received_at=RECEIVED_AT)

    assert not result.rejections
    assert min(obs.measured_at for obs in result.observations) == RECEIVED_AT - timedelta(days=7)
    times = [obs.measured_at for obs in result.observations]
    assert times != sorted(times), "the fixture should arrive out of order, as real uploads do"


@settings(max_examples=300, deadline=None)
@given(payload=st.binary(max_size=300))
def test_arbitrary_bytes_either_parse_or_are_rejected_never_crash(payload: bytes) -> None:
    try:
        parse_obs(payload, received_at=RECEIVED_AT)
    except MessageRejected as rejected:
        assert rejected.reason


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
ITEMS = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from([*GOOD_ITEMS, "foo"]) | JSON_VALUES,
        "value": JSON_VALUES,
        "unit": st.sampled_from(["/min", "%", "L/min", "mm[Hg]", "Cel", "[degF]", "kg", ""]) | JSON_VALUES,
        "measured_at": st.just(MEASURED_AT) | JSON_VALUES,
    },
)


@settings(max_examples=300, deadline=None)
@given(items=st.lists(ITEMS | JSON_VALUES, min_size=1, max_size=8))
def test_every_observation_is_either_accepted_or_rejected_exactly_once(items: list[object]) -> None:
    result = parse_obs(encode(message(observations=items)), received_at=RECEIVED_AT)

    indexes = sorted([obs.index for obs in result.observations] + [item.index for item in result.rejections])
    assert indexes == list(range(len(items)))
    for obs in result.observations:
        assert obs.value is None or math.isfinite(obs.value)
    for rejection in result.rejections:
        rejection.reason.encode("utf-8")  # storable and sendable
        assert len(rejection.reason) < 200


# --- ack and config -------------------------------------------------------------------------


def test_the_ack_has_exactly_the_shape_of_the_spec() -> None:
    ack = ack_payload(MSG_ID, 1, [ItemRejection(index=1, reason="spo2 value 150 outside 50-100 %")])

    assert ack == (
        b'{"msg_id":"3f1c9a7e-2b6d-4c1e-9f0a-1d2e3f4a5b6c","accepted":1,'
        b'"rejected":[{"index":1,"reason":"spo2 value 150 outside 50-100 %"}]}'
    )


def test_the_spec_example_with_a_bad_spo2_gives_the_spec_ack() -> None:
    doc = json.loads((PAYLOADS / "obs_spec_example.json").read_bytes())
    doc["observations"][1]["value"] = 150

    result = parse_obs(encode(doc), received_at=RECEIVED_AT)
    ack = ack_payload(result.msg_id, len(result.observations), result.rejections)

    assert json.loads(ack, object_pairs_hook=list) == [
        ("msg_id", MSG_ID),
        ("accepted", 1),
        ("rejected", [[("index", 1), ("reason", "spo2 value 150 outside 50-100 %")]]),
    ]


def test_a_whole_message_rejection_acks_nothing_and_names_the_error() -> None:
    rejected = rejection_of(encode(message(observations=[])))

    ack = ack_payload(rejected.msg_id, 0, (), error=rejected.reason)

    assert ack == b'{"msg_id":"' + MSG_ID.encode() + b'","accepted":0,"rejected":[],"error":"observations is empty"}'


def test_a_rejection_whose_msg_id_could_not_be_read_acks_with_a_null_msg_id() -> None:
    rejected = rejection_of(b"not json")

    assert ack_payload(rejected.msg_id, 0, (), error=rejected.reason) == (
        b'{"msg_id":null,"accepted":0,"rejected":[],"error":"payload is not valid JSON"}'
    )


def test_an_ack_is_ascii_json_even_for_a_non_ascii_msg_id() -> None:
    ack = ack_payload("café-1", 1, ())
    assert ack.isascii()
    assert json.loads(ack)["msg_id"] == "café-1"


def test_the_config_message_has_the_spec_shape() -> None:
    assert config_payload(300, "continuous") == b'{"report_interval_s":300,"mode":"continuous"}'


@pytest.mark.parametrize(("interval", "mode"), [(0, "continuous"), (-5, "continuous"), (True, "spot"), (300, "")])
def test_a_config_that_no_device_could_follow_is_refused(interval: int, mode: str) -> None:
    with pytest.raises(ValueError):
        config_payload(interval, mode)


# --- status ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b'{"state": "online", "battery": 81}', StatusMessage("online", 81)),
        (b'{"state": "offline"}', StatusMessage("offline", None)),
        (b'{"state": "offline", "battery": null}', StatusMessage("offline", None)),
        (b'{"state": "online", "battery": 0, "firmware": "2.1"}', StatusMessage("online", 0)),
    ],
)
def test_a_status_message_gives_the_state_and_battery(payload: bytes, expected: StatusMessage) -> None:
    assert parse_status(payload) == expected


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "payload is not valid JSON"),
        (b"online", "payload is not valid JSON"),
        (b'"online"', "payload is not a JSON object"),
        (b"{}", "state missing"),
        (b'{"state": null}', "state missing"),
        (b'{"state": "Online"}', "state 'Online' is not online or offline"),
        (b'{"state": "sleeping"}', "state 'sleeping' is not online or offline"),
        (b'{"state": 1}', "state 1 is not online or offline"),
        (b'{"state": "online", "battery": true}', "battery must be an integer 0-100 (got true)"),
        (b'{"state": "online", "battery": 101}', "battery must be an integer 0-100 (got 101)"),
        (b'{"state": "online", "battery": NaN}', "payload contains NaN or Infinity, which JSON does not allow"),
        (b'{"state": "online", "state": "offline"}', "payload has duplicate key 'state'"),
        (b"\xff", "payload is not UTF-8"),
        (b" " * 65537, "payload exceeds 65536 bytes"),
    ],
)
def test_a_bad_status_message_is_rejected(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageRejected) as caught:
        parse_status(payload)
    assert (caught.value.reason, caught.value.msg_id) == (reason, None)


# --- the sample payloads in fixtures/payloads -----------------------------------------------


def test_every_sample_payload_is_described_in_the_manifest() -> None:
    on_disk = {path.name for path in PAYLOADS.glob("*.json")} - {"manifest.json"}
    assert on_disk == set(MANIFEST["payloads"])


@pytest.mark.parametrize("name", [name for name, entry in MANIFEST["payloads"].items() if entry["channel"] == "obs"])
def test_each_sample_obs_payload_gets_the_ack_its_manifest_promises(name: str) -> None:
    payload = (PAYLOADS / name).read_bytes()
    received_at = datetime.fromisoformat(MANIFEST["received_at"])

    try:
        result = parse_obs(payload, received_at=received_at)
        ack = ack_payload(result.msg_id, len(result.observations), result.rejections)
    except MessageRejected as rejected:
        ack = ack_payload(rejected.msg_id, 0, (), error=rejected.reason)

    assert json.loads(ack) == MANIFEST["payloads"][name]["ack"]


@pytest.mark.parametrize("name", [name for name, entry in MANIFEST["payloads"].items() if entry["channel"] == "status"])
def test_each_sample_status_payload_parses_as_its_manifest_promises(name: str) -> None:
    entry = MANIFEST["payloads"][name]
    payload = (PAYLOADS / name).read_bytes()

    if "error" in entry:
        with pytest.raises(MessageRejected, match=entry["error"]):
            parse_status(payload)
    else:
        parsed = parse_status(payload)
        assert {"state": parsed.state, "battery": parsed.battery} == entry["status"]


def test_the_sample_batch_covers_every_type() -> None:
    result = parse_obs((PAYLOADS / "obs_valid_batch.json").read_bytes(), received_at=RECEIVED_AT)
    assert {obs.type for obs in result.observations} == set(GOOD_ITEMS)
    assert not result.rejections


def test_the_sample_mixed_payload_has_one_of_each_kind_of_rejection_and_keeps_the_good_ones() -> None:
    result = parse_obs((PAYLOADS / "obs_mixed_valid_invalid.json").read_bytes(), received_at=RECEIVED_AT)
    assert len(result.rejections) >= 15
    assert len({rejection.reason for rejection in result.rejections}) == len(result.rejections)
    assert [obs.type for obs in result.observations] == ["heart_rate", "temperature", "spo2"]


@pytest.mark.parametrize(
    ("stamp", "why"),
    [
        ("2026-11-23T10:30:55", "has no offset or Z"),
        ("2026-11-23 10:30", "is not an RFC 3339 timestamp"),
        ("2026-02-30T10:30:55Z", "is not a valid date and time"),
    ],
)
def test_a_bad_time_repeated_in_one_message_names_each_field_it_appears_in(stamp, why):
    # given the same bad time as sent_at in one message and as measured_at in another
    # (times are remembered between messages, so the second sees the first's verdict)
    reading = {"type": "heart_rate", "value": 70, "unit": "/min"}
    whole = {"msg_id": MSG_ID, "sent_at": stamp, "observations": [reading]}
    items = {"msg_id": MSG_ID, "observations": [{**reading, "measured_at": stamp}]}

    # when both are parsed, twice over
    for _ in range(2):
        with pytest.raises(MessageRejected) as refused:
            parse_obs(json.dumps(whole).encode(), received_at=RECEIVED_AT)
        parsed = parse_obs(json.dumps(items).encode(), received_at=RECEIVED_AT)

        # then each reason names its own field
        assert refused.value.reason == f"sent_at {stamp!r} {why}"
        assert parsed.rejections == (ItemRejection(index=0, reason=f"measured_at {stamp!r} {why}"),)


def test_readings_sharing_one_time_all_get_that_instant():
    # given four readings stamped with one time, in lower case with an offset
    stamp = "2026-11-23t11:30:55+01:00"
    items = [{"type": "heart_rate", "value": 70 + n, "unit": "/min", "measured_at": stamp} for n in range(4)]

    # when the message is parsed
    parsed = parse_obs(json.dumps({"msg_id": MSG_ID, "observations": items}).encode(), received_at=RECEIVED_AT)

    # then every reading is at the same instant in UTC
    assert [o.measured_at for o in parsed.observations] == [datetime(2026, 11, 23, 10, 30, 55, tzinfo=UTC)] * 4
