"""Ingest test set-up: sample payloads, a paired device, and a record of calls to other apps."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devices.ingest import effects
from devices.protocol import obs_topic, status_topic

PAYLOADS = Path(__file__).resolve().parents[2] / "fixtures" / "payloads"
MANIFEST = json.loads((PAYLOADS / "manifest.json").read_text())
# The instant the manifest's expected acks were worked out for (the time windows depend on it).
MANIFEST_RECEIVED_AT = datetime.fromisoformat(MANIFEST["received_at"])


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def obs_json(msg_id: str, *observations: dict[str, Any], **extra: Any) -> bytes:
    return json.dumps({"msg_id": msg_id, "observations": list(observations), **extra}).encode()


@dataclass
class EffectCalls:
    """What ingest asked of the other apps during a test."""

    contacts: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    rescores: list[set[int]] = field(default_factory=list)
    falls: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(autouse=True)
def effect_calls(monkeypatch: pytest.MonkeyPatch) -> EffectCalls:
    """Record every call to another app's service, then make the real call when it exists."""
    calls = EffectCalls()
    real = {name: getattr(effects, name) for name in effects.__all__}

    def record_contact(**kwargs: Any) -> None:
        calls.contacts.append(kwargs)
        real["record_contact"](**kwargs)

    def record_status(**kwargs: Any) -> None:
        calls.statuses.append(kwargs)
        real["record_status"](**kwargs)

    def request_rescore_after_readings(readings: Any, **kwargs: Any) -> None:
        calls.rescores.append(set(readings))
        real["request_rescore_after_readings"](readings, **kwargs)

    def alert_fall_detected(**kwargs: Any) -> None:
        calls.falls.append(kwargs)
        real["alert_fall_detected"](**kwargs)

    for name, spy in (
        ("record_contact", record_contact),
        ("record_status", record_status),
        ("request_rescore_after_readings", request_rescore_after_readings),
        ("alert_fall_detected", alert_fall_detected),
    ):
        monkeypatch.setattr(effects, name, spy)
    return calls


@pytest.fixture
def device(db: None) -> Any:

    from tests.factories import DeviceFactory

    return DeviceFactory()


@pytest.fixture
def obs_at(device: Any) -> str:
    return obs_topic(device.device_id)


@pytest.fixture
def status_at(device: Any) -> str:
    return status_topic(device.device_id)

