"""Device protocol v1: parse and build the MQTT wire messages, nothing else.

Pure Python on purpose: the MQTT listener hands raw bytes here and gets plain dataclasses back,
so every rule of the wire contract (docs/device-protocol.md) is tested without a broker or a
database. This module sits on the ingest hot path (thousands of messages a second), which is
why it avoids per-call regex compilation, decoder construction and `isinstance` chains.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

MAX_PAYLOAD_BYTES: Final = 64 * 1024
MAX_OBSERVATIONS: Final = 500
MAX_MSG_ID_CHARS: Final = 64
MAX_FUTURE: Final = timedelta(minutes=5)
MAX_PAST: Final = timedelta(days=7)
TOPIC_PREFIX: Final = "vw/v1/devices/"
CHANNELS: Final = frozenset({"obs", "status", "ack", "config"})
STATUS_STATES: Final = ("online", "offline")
CONSCIOUSNESS_CODES: Final = ("A", "C", "V", "P", "U")

# Device-sent text echoed inside a reason is clipped: reasons are stored for staff and sent
# back in the ack, and a 64 KiB string must not be copied into either.
_SHOW_LIMIT: Final = 40


# --- topics ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopicRef:
    device_id: str
    channel: str


def _is_valid_device_id(device_id: str) -> bool:
    # "+" and "#" are MQTT wildcards: a topic containing them can never be a real publish, and
    # an id containing them would turn our own subscriptions into someone else's.
    return bool(device_id) and "/" not in device_id and "+" not in device_id and "#" not in device_id


def parse_topic(topic: str) -> TopicRef | None:
    """Return the device id and channel of a protocol topic, or None for any other topic."""
    if not topic.startswith(TOPIC_PREFIX):
        return None
    device_id, separator, channel = topic[len(TOPIC_PREFIX) :].partition("/")
    # An extra level ("obs/x") or a trailing slash leaves a channel outside the set.
    if not separator or channel not in CHANNELS or not _is_valid_device_id(device_id):
        return None
    return TopicRef(device_id=device_id, channel=channel)


def _topic(device_id: str, channel: str) -> str:
    if not _is_valid_device_id(device_id):
        raise ValueError(f"device id {device_id!r} cannot be used as a topic level")
    return f"{TOPIC_PREFIX}{device_id}/{channel}"


def obs_topic(device_id: str) -> str:
    return _topic(device_id, "obs")


def status_topic(device_id: str) -> str:
    return _topic(device_id, "status")


def ack_topic(device_id: str) -> str:
    return _topic(device_id, "ack")


def config_topic(device_id: str) -> str:
    return _topic(device_id, "config")


# --- results --------------------------------------------------------------------------------


class MessageRejected(Exception):
    """The whole message is refused; `msg_id` is set only when it was itself valid."""

    def __init__(self, reason: str, msg_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.msg_id = msg_id


@dataclass(frozen=True, slots=True)
class ParsedObservation:
    index: int
    type: str
    value: float | None
    code: str | None
    unit: str
    measured_at: datetime
    loinc: str | None


@dataclass(frozen=True, slots=True)
class ItemRejection:
    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class ObsMessage:
    msg_id: str
    sent_at: datetime | None
    battery: int | None
    observations: tuple[ParsedObservation, ...]
    rejections: tuple[ItemRejection, ...]


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    """How a device says it is connected (spec "Network information"); every field optional."""

    type: str | None = None
    operator: str | None = None
    rssi_dbm: int | None = None
    technology: str | None = None
    # An opaque cell or access-point identifier: personal data (it places the patient's home).
    cell: str | None = None


@dataclass(frozen=True, slots=True)
class StatusMessage:
    state: str
    battery: int | None
    network: NetworkInfo | None = None
    # Network fields dropped for breaking a rule; the rest of the status stands.
    network_rejections: tuple[str, ...] = ()


class _Invalid(Exception):
    """A rule broken somewhere below the entry points; the caller decides its scope."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- the observation table (spec "Observation message") -------------------------------------

_NUMBER, _BOOLEAN, _TRUE, _ACVPU = "number", "boolean", "true", "acvpu"


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    units: tuple[str, ...]  # empty: the type takes no unit
    low: int = 0
    high: int = 0
    loinc: str | None = None


_RULES: Final[dict[str, _Rule]] = {
    "respiratory_rate": _Rule(_NUMBER, ("/min",), 1, 80, "9279-1"),
    "spo2": _Rule(_NUMBER, ("%",), 50, 100, "59408-5"),
    # The spec gives on_oxygen the oxygen-flow code; it is kept so both halves of the
    # oxygen reading share one code, as the table lists it.
    "on_oxygen": _Rule(_BOOLEAN, (), loinc="3151-8"),
    "o2_flow_rate": _Rule(_NUMBER, ("L/min",), 0, 60, "3151-8"),
    "systolic_bp": _Rule(_NUMBER, ("mm[Hg]",), 40, 300, "8480-6"),
    "diastolic_bp": _Rule(_NUMBER, ("mm[Hg]",), 20, 200, "8462-4"),
    "heart_rate": _Rule(_NUMBER, ("/min",), 20, 300, "8867-4"),
    "temperature": _Rule(_NUMBER, ("Cel", "[degF]"), 25, 45, "8310-5"),
    "consciousness": _Rule(_ACVPU, (), loinc="80288-4"),
    "weight": _Rule(_NUMBER, ("kg",), 20, 350, "29463-7"),
    "fall_detected": _Rule(_TRUE, ()),
}


# --- decoding ---------------------------------------------------------------------------------


def _clip(text: str) -> str:
    return text if len(text) <= _SHOW_LIMIT else text[:_SHOW_LIMIT] + "..."


def _show(raw: object) -> str:
    """Render a device-sent value for a reason: short, printable and storable as UTF-8."""
    if isinstance(raw, str):
        text = _clip(raw)
        if not text.isprintable():
            # Lone surrogates ("\ud800" is legal JSON) and NUL cannot be stored or re-encoded.
            text = "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)
        return f"'{text}'"
    if raw is None:
        return "null"
    if raw is True or raw is False:
        return "true" if raw else "false"
    if isinstance(raw, list):
        return "[...]"
    if isinstance(raw, dict):
        return "{...}"
    return _clip(str(raw))


def _refuse_constant(name: str) -> Any:
    # json accepts NaN and Infinity by default although RFC 8259 does not; a NaN reading
    # would compare false with every range bound and slip through as "plausible".
    raise _Invalid("payload contains NaN or Infinity, which JSON does not allow")


def _refuse_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        # With {"value": 88, "value": 150} which reading is real is a guess; refuse to guess.
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Invalid(f"payload has duplicate key {_show(key)}")
            seen.add(key)
    return obj


# One decoder for the process: json.loads(..., **hooks) would build a new one per message.
_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant, object_pairs_hook=_refuse_duplicate_keys)


def _decode(payload: bytes) -> object:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageRejected(f"payload exceeds {MAX_PAYLOAD_BYTES} bytes")
    try:
        # Decoded explicitly: json.loads(bytes) would also accept UTF-16 and UTF-32.
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise MessageRejected("payload is not UTF-8") from None
    try:
        return _DECODER.decode(text)
    except _Invalid as exc:
        raise MessageRejected(exc.reason) from None
    except json.JSONDecodeError:
        raise MessageRejected("payload is not valid JSON") from None
    except ValueError:
        # Python refuses integer literals over 4300 digits (CVE-2020-10735 limit).
        raise MessageRejected("payload contains a number with too many digits") from None
    except RecursionError:
        raise MessageRejected("payload is nested too deeply") from None


# RFC 3339 date-time (section 5.6) with the offset made optional so that a missing one gets
# its own reason. [0-9], not \d: \d also matches non-ASCII digits. "T" and "Z" may be lower
# case (section 5.6 note); fromisoformat accepts far more (week dates, no seconds, "+05").
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:([0-9]{2})(?:\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_ONE_SECOND: Final = timedelta(seconds=1)


def _parse_timestamp(field: str, raw: object) -> datetime:
    instant = _instant(raw) if isinstance(raw, str) else _NOT_RFC3339
    if type(instant) is datetime:
        return instant
    if instant is _NO_OFFSET:
        # A local time without an offset cannot be placed on the patient's timeline.
        raise _Invalid(f"{field} {_show(raw)} has no offset or Z")
    if instant is _NOT_A_DATE:
        raise _Invalid(f"{field} {_show(raw)} is not a valid date and time")
    raise _Invalid(f"{field} {_show(raw)} is not an RFC 3339 timestamp")


_NOT_RFC3339: Final = "not RFC 3339"
_NO_OFFSET: Final = "no offset"
_NOT_A_DATE: Final = "not a date"


@functools.lru_cache(maxsize=2048)
def _instant(text: str) -> datetime | str:
    """The UTC instant a timestamp names, or which of the reasons above it fails for.

    Cached: a message's readings, and its sent_at, usually carry the same time, and a device
    uploading stored readings repeats its times on every retry.
    """
    match = _RFC3339.fullmatch(text)
    if match is None:
        return _NOT_RFC3339
    if match.group(2) is None:
        return _NO_OFFSET
    text = text.upper()
    leap_second = match.group(1) == "60"
    if leap_second:
        # RFC 3339 allows a leap second (23:59:60) and datetime cannot hold one; it is read
        # as the following second, as POSIX clocks do, rather than refusing a valid reading.
        text = text[:17] + "59" + text[19:]
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return _NOT_A_DATE
    if leap_second:
        parsed += _ONE_SECOND
    return parsed.astimezone(UTC)


# --- observation items ------------------------------------------------------------------------


def _check_kind(obs_type: str, rule: _Rule, raw: object) -> tuple[float | None, str | None]:
    """Return (value, code) for the non-numeric kinds."""
    if rule.kind == _BOOLEAN:
        if raw is True or raw is False:
            return (1.0 if raw else 0.0), None
        raise _Invalid(f"{obs_type} value is not true or false (got {_show(raw)})")
    if rule.kind == _TRUE:
        # A fall is an event: the device reports that one happened, never that none did.
        if raw is True:
            return 1.0, None
        raise _Invalid(f"{obs_type} value is not true (got {_show(raw)})")
    # Exactly the spec's capitals: "a" is refused rather than guessed at.
    if type(raw) is str and raw in CONSCIOUSNESS_CODES:
        return None, raw
    raise _Invalid(f"{obs_type} value is not one of A C V P U (got {_show(raw)})")


def _check_number(obs_type: str, raw: object) -> int | float:
    # type() rather than isinstance: JSON true/false arrive as bool, a subclass of int.
    if type(raw) is int:
        return raw
    if type(raw) is not float:
        raise _Invalid(f"{obs_type} value is not a number (got {_show(raw)})")
    if not math.isfinite(raw):
        # Only an overflowing literal such as 1e400 gets here; NaN/Infinity are refused earlier.
        raise _Invalid(f"{obs_type} value is not a finite number")
    return raw


def _check_unit(obs_type: str, rule: _Rule, raw: object) -> str:
    if not rule.units:
        if raw is None or raw == "":
            return ""
        raise _Invalid(f"{obs_type} unit {_show(raw)} not accepted (expected no unit)")
    if raw is None:
        raise _Invalid(f"{obs_type} unit missing")
    if type(raw) is not str or raw not in rule.units:
        expected = " or ".join(rule.units)
        raise _Invalid(f"{obs_type} unit {_show(raw)} not accepted (expected {expected})")
    return raw


def _check_range(obs_type: str, rule: _Rule, number: int | float, unit: str) -> float:
    if unit == "[degF]":
        return _fahrenheit_to_celsius(obs_type, rule, number)
    # Compared before float(): an in-range int always converts, a 400-digit one would not.
    if not rule.low <= number <= rule.high:
        raise _Invalid(f"{obs_type} value {_show(number)} outside {rule.low}-{rule.high} {unit}")
    return float(number)


def _fahrenheit_to_celsius(obs_type: str, rule: _Rule, raw: int | float) -> float:
    try:
        # Rounded to 0.01 °C so that, say, 100.4 °F is stored as 38.0 and not
        # 38.00000000000001, which would land in the wrong early-warning band.
        celsius = round((raw - 32) * 5 / 9, 2)
    except OverflowError:  # an integer too large for a float is out of range in any unit
        celsius = math.inf if raw > 0 else -math.inf
    if not rule.low <= celsius <= rule.high:
        raise _Invalid(f"{obs_type} value {_show(raw)} [degF] ({celsius} Cel) outside {rule.low}-{rule.high} Cel")
    return celsius


def _check_measured_at(raw: object, earliest: datetime, latest: datetime) -> datetime:
    if raw is None:
        raise _Invalid("measured_at missing")
    measured_at = _parse_timestamp("measured_at", raw)
    # Both limits are inclusive: exactly 5 minutes ahead or exactly 7 days old is accepted.
    if measured_at > latest:
        raise _Invalid("measured_at is more than 5 minutes in the future")
    if measured_at < earliest:
        raise _Invalid("measured_at is more than 7 days in the past")
    return measured_at


def _parse_item(index: int, item: object, earliest: datetime, latest: datetime) -> ParsedObservation:
    if type(item) is not dict:
        raise _Invalid(f"observation is not a JSON object (got {_show(item)})")
    obs_type = item.get("type")
    if obs_type is None:
        raise _Invalid("type missing")
    if type(obs_type) is not str:
        raise _Invalid(f"type is not a string (got {_show(obs_type)})")
    rule = _RULES.get(obs_type)
    if rule is None:
        raise _Invalid(f"unknown type {_show(obs_type)}")
    raw_value = item.get("value")
    if raw_value is None:
        raise _Invalid(f"{obs_type} value missing")
    value: float | None
    if rule.kind == _NUMBER:
        number = _check_number(obs_type, raw_value)
        unit = _check_unit(obs_type, rule, item.get("unit"))
        # The range is judged after the unit: a °F reading is only judged once converted.
        value, code = _check_range(obs_type, rule, number, unit), None
        if unit == "[degF]":
            unit = "Cel"
    else:
        value, code = _check_kind(obs_type, rule, raw_value)
        unit = _check_unit(obs_type, rule, item.get("unit"))
    return ParsedObservation(
        index=index,
        type=obs_type,
        value=value,
        code=code,
        unit=unit,
        measured_at=_check_measured_at(item.get("measured_at"), earliest, latest),
        loinc=rule.loinc,
    )


# --- messages ---------------------------------------------------------------------------------


def _read_msg_id(doc: dict[str, Any]) -> str:
    raw = doc.get("msg_id")
    if raw is None:
        raise MessageRejected("msg_id missing")
    if type(raw) is not str:
        raise MessageRejected(f"msg_id is not a string (got {_show(raw)})")
    if not 1 <= len(raw) <= MAX_MSG_ID_CHARS:
        raise MessageRejected(f"msg_id must be 1-{MAX_MSG_ID_CHARS} characters (got {len(raw)})")
    # The msg_id is stored and echoed: NUL cannot go into PostgreSQL text and a lone surrogate
    # cannot be encoded as UTF-8 at all.
    if "\x00" in raw or (not raw.isascii() and not _is_encodable(raw)):
        raise MessageRejected("msg_id contains NUL or an unpaired surrogate")
    return raw


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _read_battery(raw: object) -> int | None:
    if raw is None:
        return None
    if type(raw) is not int or not 0 <= raw <= 100:
        raise _Invalid(f"battery must be an integer 0-100 (got {_show(raw)})")
    return raw


def _read_observations(raw: object) -> list[object]:
    if raw is None:
        raise _Invalid("observations missing")
    if type(raw) is not list:
        raise _Invalid(f"observations is not a list (got {_show(raw)})")
    if not raw:
        raise _Invalid("observations is empty")
    if len(raw) > MAX_OBSERVATIONS:
        raise _Invalid(f"observations has {len(raw)} items (at most {MAX_OBSERVATIONS})")
    return raw


def _require_aware(moment: datetime) -> None:
    if moment.utcoffset() is None:
        raise ValueError("received_at must be time-zone aware")


def parse_obs(payload: bytes, *, received_at: datetime) -> ObsMessage:
    """Parse an `obs` message; raise MessageRejected if the whole message must be refused."""
    _require_aware(received_at)
    doc = _decode(payload)
    if type(doc) is not dict:
        raise MessageRejected("payload is not a JSON object")
    msg_id = _read_msg_id(doc)
    try:
        raw_sent_at = doc.get("sent_at")
        sent_at = None if raw_sent_at is None else _parse_timestamp("sent_at", raw_sent_at)
        battery = _read_battery(doc.get("battery"))
        items = _read_observations(doc.get("observations"))
    except _Invalid as exc:
        raise MessageRejected(exc.reason, msg_id) from None
    # Judged against when the platform received the message, not the device's sent_at: a
    # device clock that is wrong must not widen its own window.
    earliest, latest = received_at - MAX_PAST, received_at + MAX_FUTURE
    observations: list[ParsedObservation] = []
    rejections: list[ItemRejection] = []
    for index, item in enumerate(items):
        try:
            observations.append(_parse_item(index, item, earliest, latest))
        except _Invalid as exc:
            rejections.append(ItemRejection(index=index, reason=exc.reason))
    return ObsMessage(
        msg_id=msg_id,
        sent_at=sent_at,
        battery=battery,
        observations=tuple(observations),
        rejections=tuple(rejections),
    )


def parse_status(payload: bytes) -> StatusMessage:
    """Parse a `status` message (the device's hello or its Last Will)."""
    doc = _decode(payload)
    if type(doc) is not dict:
        raise MessageRejected("payload is not a JSON object")
    state = doc.get("state")
    if state is None:
        raise MessageRejected("state missing")
    if type(state) is not str or state not in STATUS_STATES:
        raise MessageRejected(f"state {_show(state)} is not online or offline")
    try:
        battery = _read_battery(doc.get("battery"))
    except _Invalid as exc:
        raise MessageRejected(exc.reason) from None
    network, problems = _read_network(doc.get("network"))
    return StatusMessage(state=state, battery=battery, network=network, network_rejections=problems)


# --- network information in status (spec "Network information") --------------------------------

NETWORK_TYPES: Final = ("cellular", "wifi", "ethernet", "other")
RSSI_RANGE: Final = (-140, 0)
MAX_TECHNOLOGY_CHARS: Final = 16
MAX_CELL_CHARS: Final = 32
_OPERATOR: Final = re.compile(r"[0-9]{5,6}")
_DROPPED: Final = "; field dropped, the rest of the status kept"


def _read_network(raw: object) -> tuple[NetworkInfo | None, tuple[str, ...]]:
    """The network object, each bad field dropped with its reason; unknown fields ignored."""
    if raw is None:
        return None, ()
    if type(raw) is not dict:
        return None, (f"network is not a JSON object (got {_show(raw)}){_DROPPED}",)
    values: dict[str, Any] = {}
    problems: list[str] = []
    for name, check in _NETWORK_FIELDS:
        value = raw.get(name)
        if value is None:
            continue
        try:
            values[name] = check(value, raw)
        except _Invalid as exc:
            problems.append(f"network.{name} {exc.reason}{_DROPPED}")
    info = NetworkInfo(**values)
    return (info if values else None), tuple(problems)


def _network_type(value: object, _: dict) -> str:
    if type(value) is not str or value not in NETWORK_TYPES:
        raise _Invalid(f"{_show(value)} is not one of {', '.join(NETWORK_TYPES)}")
    return value


def _network_operator(value: object, network: dict) -> str:
    if type(value) is not str or _OPERATOR.fullmatch(value) is None:
        raise _Invalid(f"{_show(value)} is not an MCC+MNC of 5 or 6 digits")
    if network.get("type") in ("wifi", "ethernet"):
        # The spec gives an operator for cellular links only; on a fixed line it names nothing.
        raise _Invalid(f"is given for a {network['type']} network; only a cellular one has an operator")
    return value


def _network_rssi(value: object, _: dict) -> int:
    low, high = RSSI_RANGE
    # type(), not isinstance: JSON true is a bool, and -97.0 is not the integer the spec asks for.
    if type(value) is not int or not low <= value <= high:
        raise _Invalid(f"must be an integer from {low} to {high} dBm (got {_show(value)})")
    return value


def _network_text(limit: int, *, personal: bool) -> Any:
    def check(value: object, _: dict) -> str:
        # A cell id is personal data: its value is never echoed into a reason staff can read.
        shown = "" if personal else f" (got {_show(value)})"
        if type(value) is not str or not 1 <= len(value) <= limit:
            raise _Invalid(f"must be text of 1-{limit} characters{shown}")
        if not value.isprintable() or not _is_encodable(value):
            raise _Invalid(f"contains control characters or an unpaired surrogate{shown}")
        return value

    return check


_NETWORK_FIELDS: Final = (
    ("type", _network_type),
    ("operator", _network_operator),
    ("rssi_dbm", _network_rssi),
    ("technology", _network_text(MAX_TECHNOLOGY_CHARS, personal=False)),
    ("cell", _network_text(MAX_CELL_CHARS, personal=True)),
)


# --- platform -> device -----------------------------------------------------------------------


def _compact_json(body: dict[str, object]) -> bytes:
    # ASCII-only output: any device JSON parser reads \u escapes, not every one reads UTF-8.
    return json.dumps(body, separators=(",", ":")).encode("ascii")


def ack_payload(
    msg_id: str | None,
    accepted: int,
    rejections: Sequence[ItemRejection],
    error: str | None = None,
) -> bytes:
    """The `ack` for one `obs` message; `error` is set only when the whole message was refused."""
    body: dict[str, object] = {
        "msg_id": msg_id,
        "accepted": accepted,
        "rejected": [{"index": item.index, "reason": item.reason} for item in rejections],
    }
    if error is not None:
        body["error"] = error
    return _compact_json(body)


def config_payload(report_interval_s: int, mode: str) -> bytes:
    """The retained `config` message for one device."""
    if type(report_interval_s) is not int or report_interval_s < 1:
        raise ValueError("report_interval_s must be a positive integer")
    if not mode:
        raise ValueError("mode must not be empty")
    return _compact_json({"report_interval_s": report_interval_s, "mode": mode})
