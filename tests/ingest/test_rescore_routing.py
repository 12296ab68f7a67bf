"""Ingest hands scoring what it needs to rescore a patient promptly or routinely."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices.ingest import Incoming, handle_batch
from scoring.services import rescore_patients
from tests.ingest.conftest import obs_json
from tests.scoring_services.builders import record_set

pytestmark = pytest.mark.django_db


@pytest.fixture
def asked(monkeypatch):
    """(patient ids, routine?) of every rescore request, instead of sending tasks."""
    calls: list[tuple[list[int], bool]] = []
    monkeypatch.setattr("scoring.services.request_rescore", lambda ids, routine=False: calls.append((ids, routine)))
    return calls


def _send(device, *readings) -> None:
    now = datetime.now(UTC)
    items = [
        {"type": kind, "value": value, "unit": unit, "measured_at": (now - timedelta(seconds=5)).isoformat()}
        for kind, value, unit in readings
    ]
    message = Incoming(f"vw/v1/devices/{device.device_id}/obs", obs_json(f"m{now.timestamp()}", *items), now)
    [outcome] = handle_batch([message])
    assert outcome.accepted == len(readings)


def _routed(asked, patient_id) -> str:
    kinds = {"routine" if routine else "prompt" for ids, routine in asked if patient_id in ids}
    assert len(kinds) == 1, asked
    return kinds.pop()


def test_a_low_risk_patient_whose_readings_score_as_before_is_rescored_routinely(device, asked):
    # given a patient scored low risk with a pulse of 95 (scoring 1), everything else normal
    record_set(device.patient, at=datetime.now(UTC) - timedelta(minutes=5), heart_rate=95)
    rescore_patients([device.patient_id])
    # when the device reports a pulse of 100 (still 1) and a normal SpO2
    _send(device, ("heart_rate", 100, "/min"), ("spo2", 97, "%"))
    # then the rescore can wait: nothing can score more than it does now
    assert _routed(asked, device.patient_id) == "routine"


def test_a_reading_that_scores_more_than_its_parameter_does_now_is_prompt(device, asked):
    # given the same patient, pulse scoring 1
    record_set(device.patient, at=datetime.now(UTC) - timedelta(minutes=5), heart_rate=95)
    rescore_patients([device.patient_id])
    # when the pulse reaches 115 (scoring 2)
    _send(device, ("heart_rate", 115, "/min"))
    # then the patient is rescored promptly
    assert _routed(asked, device.patient_id) == "prompt"


def test_a_parameter_missing_from_the_current_score_counts_as_scoring_nothing(device, asked):
    # given a low-risk score with no temperature in it
    record_set(device.patient, at=datetime.now(UTC) - timedelta(minutes=5), temperature=None)
    rescore_patients([device.patient_id])
    # when a temperature of 38.5 (scoring 1) arrives / then it is prompt
    _send(device, ("temperature", 38.5, "Cel"))
    assert _routed(asked, device.patient_id) == "prompt"
