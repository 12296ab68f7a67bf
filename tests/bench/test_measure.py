"""A step's scoring work, counted from the database: the scores and alerts its readings created."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from benchmarks import measure
from benchmarks.messages import alert_readings, elevated_readings, obs_payload, rfc3339
from devices.protocol import parse_obs
from scoring.services import rescore_patients
from tests.factories import DeviceFactory, ObservationFactory, PatientFactory

pytestmark = pytest.mark.django_db


def _store(readings: list[dict], now) -> int:
    """Store one message's readings as ingest would, for a new patient; returns the patient's id."""
    device = DeviceFactory(patient=PatientFactory())
    parsed = parse_obs(obs_payload("p0r250.1.1", rfc3339(now), 80, readings), received_at=now)
    for item in parsed.observations:
        ObservationFactory(
            patient=device.patient,
            device=device,
            type=item.type,
            value=item.value,
            code=item.code or "",
            unit=item.unit,
            measured_at=item.measured_at,
            received_at=now,
            msg_id=parsed.msg_id,
            msg_index=item.index,
        )
    return device.patient_id


def test_an_elevated_patient_costs_a_score_and_no_alert():
    # given an elevated reading stored for a patient
    now = timezone.now() - timedelta(seconds=1)
    patient_id = _store(elevated_readings(random.Random(3), rfc3339(now)), now)
    before = measure.scoring_rows()
    # when the patient is rescored as the worker would
    created = rescore_patients([patient_id], now=now + timedelta(seconds=1))
    # then one score of 2 (low risk) is stored, and no alert is raised
    assert [(score.total, score.risk) for score in created] == [(2, "low")]
    scores, alerts = measure.scoring_rows()
    assert (scores - before[0], alerts - before[1]) == (1, 0)


def test_an_alerting_patient_costs_a_score_and_its_alerts():
    # given the fleet's alert readings stored for a fresh patient
    now = timezone.now() - timedelta(seconds=1)
    patient_id = _store(alert_readings(rfc3339(now)), now)
    before = measure.scoring_rows()
    # when rescored / then the count shows the score and the alerts it raised: one for the
    # high-risk band, one for the single parameters at 3
    rescore_patients([patient_id], now=now + timedelta(seconds=1))
    scores, alerts = measure.scoring_rows()
    assert (scores - before[0], alerts - before[1]) == (1, 2)
