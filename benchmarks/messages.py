"""Protocol-v1 `obs` messages for the benchmark fleet: ordinary, elevated and alert-raising readings.

Every message is one a real device could send (tests parse each with ``devices.protocol``), so
the platform does its full work on it. The msg_id carries the publish time, which lets any
process — the fleet, the alert poller, someone reading the database — recover the latency of a
message from the row alone.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Separates the fields of a msg_id; device ids and run tags never contain it.
_SEP = "."


@dataclass(frozen=True, slots=True)
class MsgRef:
    tag: str
    seq: int
    published_at: float  # seconds since the epoch


def encode_msg_id(tag: str, seq: int, published_at: float) -> str:
    """`<tag>.<seq>.<publish time in µs>`: unique per run and step, at most 64 characters."""
    if not tag or _SEP in tag:
        raise ValueError(f"tag {tag!r} must be non-empty and contain no {_SEP!r}")
    msg_id = f"{tag}{_SEP}{seq}{_SEP}{round(published_at * 1_000_000)}"
    if len(msg_id) > 64:
        raise ValueError(f"msg_id {msg_id!r} is longer than the protocol's 64 characters")
    return msg_id


def decode_msg_id(msg_id: str) -> MsgRef | None:
    """The tag, sequence and publish time of a bench msg_id; None for anyone else's."""
    parts = msg_id.split(_SEP)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return MsgRef(tag=parts[0], seq=int(parts[1]), published_at=int(parts[2]) / 1_000_000)


def rfc3339(moment: datetime) -> str:
    if moment.utcoffset() is None:
        raise ValueError("moment must be time-zone aware")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _reading(obs_type: str, value: Any, unit: str | None, measured_at: str) -> dict[str, Any]:
    item: dict[str, Any] = {"type": obs_type, "value": value, "measured_at": measured_at}
    if unit is not None:
        item["unit"] = unit
    return item


def ordinary_readings(rng: random.Random, measured_at: str) -> list[dict[str, Any]]:
    """What a wearable patch on a stable patient sends: four vitals, all scoring 0 on NEWS2."""
    return [
        _reading("heart_rate", rng.randint(58, 88), "/min", measured_at),
        _reading("spo2", rng.randint(96, 99), "%", measured_at),
        _reading("respiratory_rate", rng.randint(12, 19), "/min", measured_at),
        _reading("temperature", round(rng.uniform(36.2, 37.6), 1), "Cel", measured_at),
    ]


def elevated_readings(rng: random.Random, measured_at: str) -> list[dict[str, Any]]:
    """A patient a little unwell: NEWS2 total 2, low risk, no single parameter at 3, so no alert.

    RCP 2017 chart 1: pulse 91–110 and temperature 38.1–39.0 °C each score 1; SpO2 ≥ 96 % (scale
    1) and respiration 12–20 score 0. A reading that scores is rescored promptly, never
    routinely, so these patients load the prompt queue without ever raising an alert, as the
    not-quite-well patients of a real ward do.
    """
    return [
        _reading("heart_rate", rng.randint(92, 108), "/min", measured_at),
        _reading("spo2", rng.randint(96, 99), "%", measured_at),
        _reading("respiratory_rate", rng.randint(12, 19), "/min", measured_at),
        _reading("temperature", round(rng.uniform(38.2, 38.9), 1), "Cel", measured_at),
    ]


# NEWS2 (RCP 2017, chart 1, SpO2 scale 1): RR 26 → 3, SpO2 90 → 3, air → 0, systolic 95 → 2,
# pulse 125 → 2, alert → 0, 38.6 °C → 1: total 11, high risk, with single parameters of 3.
ALERT_READINGS: tuple[tuple[str, Any, str | None], ...] = (
    ("respiratory_rate", 26, "/min"),
    ("spo2", 90, "%"),
    ("on_oxygen", False, None),
    ("systolic_bp", 95, "mm[Hg]"),
    ("diastolic_bp", 60, "mm[Hg]"),
    ("heart_rate", 125, "/min"),
    ("temperature", 38.6, "Cel"),
    ("consciousness", "A", None),
)


def alert_readings(measured_at: str) -> list[dict[str, Any]]:
    """A complete set of vitals that puts a fresh patient straight into the high-risk band."""
    return [_reading(obs_type, value, unit, measured_at) for obs_type, value, unit in ALERT_READINGS]


def obs_payload(msg_id: str, sent_at: str, battery: int, readings: list[dict[str, Any]]) -> bytes:
    body = {"msg_id": msg_id, "sent_at": sent_at, "battery": battery, "observations": readings}
    return json.dumps(body, separators=(",", ":")).encode()
