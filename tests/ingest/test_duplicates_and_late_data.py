"""Redelivery never duplicates; store-and-forward readings land in the past, flagged late."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from devices.ingest import Incoming, handle_batch, handle_message
from devices.models import IngestRejection, ReceivedMessage
from patients.models import Observation
from tests.factories import ObservationFactory
from tests.ingest.conftest import MANIFEST_RECEIVED_AT, obs_json, payload

pytestmark = pytest.mark.django_db


def test_the_same_message_twice_stores_one_copy_and_gets_the_same_ack(device, obs_at):
    # given a message with good and bad observations, already handled once
    body = payload("obs_mixed_valid_invalid.json")
    first = handle_message(obs_at, body, MANIFEST_RECEIVED_AT)

    # when it is redelivered a minute later
    second = handle_message(obs_at, body, MANIFEST_RECEIVED_AT + timedelta(minutes=1))

    # then nothing new is stored and the device hears exactly the same answer
    assert second.duplicate and not first.duplicate
    assert second.reply == first.reply
    assert Observation.objects.filter(device=device).count() == first.accepted == 3
    assert IngestRejection.objects.filter(device=device).count() == first.rejected
    assert ReceivedMessage.objects.filter(device=device).count() == 1


def test_the_same_message_twice_in_one_batch_stores_one_copy(device, obs_at):
    # given one batch in which the broker delivered a message twice
    body = payload("obs_valid_batch.json")
    batch = [Incoming(obs_at, body, MANIFEST_RECEIVED_AT), Incoming(obs_at, body, MANIFEST_RECEIVED_AT)]

    # when the batch is handled
    first, second = handle_batch(batch)

    # then one copy is stored and both deliveries get the same answer
    assert (first.duplicate, second.duplicate) == (False, True)
    assert first.reply == second.reply
    assert Observation.objects.filter(device=device).count() == 29


def test_a_message_refused_whole_is_answered_the_same_when_it_comes_again(device, obs_at):
    # given a message refused whole although its msg_id was valid
    body = payload("obs_invalid_observations_empty.json")
    first = handle_message(obs_at, body, MANIFEST_RECEIVED_AT)

    # when it is sent again
    second = handle_message(obs_at, body, MANIFEST_RECEIVED_AT)

    # then the same error comes back and it is recorded once
    assert json.loads(second.reply) == json.loads(first.reply)
    assert json.loads(second.reply)["error"] == "observations is empty"
    assert IngestRejection.objects.filter(device=device).count() == 1


def test_a_different_payload_reusing_a_msg_id_is_not_stored(device, obs_at):
    # given a stored message
    now = datetime.now(UTC)
    reading = {"type": "heart_rate", "value": 70, "unit": "/min", "measured_at": now.isoformat()}
    handle_message(obs_at, obs_json("reused", reading), now)

    # when another payload arrives under the same msg_id
    outcome = handle_message(obs_at, obs_json("reused", {**reading, "value": 150}), now)

    # then the first copy stands, and the repeat is refused as a reuse (tests/ingest/test_msg_id_reuse.py)
    assert outcome.error == "msg_id reused with different content"
    assert list(Observation.objects.values_list("value", flat=True)) == [70.0]


def test_readings_uploaded_late_are_flagged_and_land_in_the_past(device, obs_at):
    # given the patient's current reading, measured and received a moment ago
    received_at = MANIFEST_RECEIVED_AT
    current = ObservationFactory(
        patient=device.patient, device=device, type="spo2", value=96, unit="%",
        measured_at=received_at - timedelta(seconds=30), received_at=received_at - timedelta(seconds=25),
    )

    # when the device uploads readings stored while it was out of signal, out of order
    handle_message(obs_at, payload("obs_late_store_and_forward.json"), received_at)

    # then they are all marked late, ordered by when they were measured, behind the current one
    late = Observation.objects.filter(device=device, msg_id="0b7e2a51-6f0e-4c43-9d1a-5e3c1f6a0003")
    assert late.count() == 30
    assert all(o.is_late for o in late)
    times = list(Observation.objects.filter(patient=device.patient).values_list("measured_at", flat=True))
    assert times == sorted(times, reverse=True)
    assert Observation.objects.filter(patient=device.patient).first() == current


@pytest.mark.parametrize(("age_seconds", "late"), [(120, False), (121, True)])
def test_a_reading_is_late_only_when_it_arrives_more_than_the_late_threshold_after_it_was_measured(
    device, obs_at, settings, age_seconds, late
):
    # given the late threshold
    settings.VW_LATE_READING_SECONDS = 120
    now = datetime.now(UTC).replace(microsecond=0)
    measured_at = now - timedelta(seconds=age_seconds)
    reading = {"type": "heart_rate", "value": 70, "unit": "/min", "measured_at": measured_at.isoformat()}

    # when a reading arrives that old
    handle_message(obs_at, obs_json("age", reading), now)

    # then it is flagged late exactly past the threshold
    assert Observation.objects.get().is_late is late
