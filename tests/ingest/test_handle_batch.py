"""Every protocol rule end to end: raw message in, database rows and device ack out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from devices.ingest import Incoming, handle_batch, handle_message
from devices.models import IngestRejection, ReceivedMessage
from devices.protocol import ack_topic, obs_topic
from patients.models import Observation
from tests.factories import DeviceFactory
from tests.ingest.conftest import MANIFEST, MANIFEST_RECEIVED_AT, obs_json, payload

pytestmark = pytest.mark.django_db

OBS_SAMPLES = sorted(name for name, entry in MANIFEST["payloads"].items() if entry["channel"] == "obs")


def _now() -> datetime:
    return datetime.now(UTC)


def _heart_rate(value: object, at: datetime) -> dict:
    return {"type": "heart_rate", "value": value, "unit": "/min", "measured_at": at.isoformat()}


@pytest.mark.parametrize("name", OBS_SAMPLES)
def test_every_sample_payload_is_stored_and_answered_as_the_manifest_promises(device, obs_at, name):
    # given a sample wire payload and the ack the protocol says it earns
    expected = MANIFEST["payloads"][name]["ack"]

    # when it arrives from a paired device
    outcome = handle_message(obs_at, payload(name), MANIFEST_RECEIVED_AT)

    # then the device is answered exactly so, and the database holds exactly that outcome
    assert outcome.reply_topic == ack_topic(device.device_id)
    assert json.loads(outcome.reply) == expected
    assert Observation.objects.filter(device=device).count() == expected["accepted"]
    items = IngestRejection.objects.filter(device=device, index__isnull=False).order_by("index")
    assert [(r.index, r.reason) for r in items] == [(i["index"], i["reason"]) for i in expected["rejected"]]
    whole = IngestRejection.objects.filter(device=device, index__isnull=True)
    assert [r.reason for r in whole] == ([expected["error"]] if "error" in expected else [])


def test_a_valid_reading_is_stored_with_its_value_unit_time_and_source(device, obs_at):
    # given the spec's example message
    received_at = MANIFEST_RECEIVED_AT

    # when it is handled
    handle_message(obs_at, payload("obs_spec_example.json"), received_at)

    # then both readings belong to the device's patient, traceable to the message
    stored = {o.type: o for o in Observation.objects.filter(patient=device.patient)}
    assert set(stored) == {"heart_rate", "spo2"}
    assert (stored["spo2"].value, stored["spo2"].unit) == (93.0, "%")
    assert stored["spo2"].measured_at == datetime(2026, 11, 23, 10, 30, 55, tzinfo=UTC)
    assert stored["spo2"].received_at == received_at
    assert (stored["spo2"].msg_id, stored["spo2"].msg_index) == ("3f1c9a7e-2b6d-4c1e-9f0a-1d2e3f4a5b6c", 1)
    assert not stored["spo2"].is_late
    message = ReceivedMessage.objects.get(device=device)
    assert (message.accepted, message.rejected) == (2, 0)
    assert message.sent_at == datetime(2026, 11, 23, 10, 31, 2, tzinfo=UTC)


def test_a_value_of_ten_to_the_308_is_rejected_and_the_reading_beside_it_kept(device, obs_at):
    # given a message with an absurd heart rate next to a good one
    now = _now()
    body = obs_json("big-1", _heart_rate(1e308, now), _heart_rate(72, now))

    # when it is handled
    outcome = handle_message(obs_at, body, now)

    # then the absurd value is refused with a reason and the good one is stored
    assert outcome.accepted == 1
    reason = "heart_rate value 1e+308 outside 20-300 /min"
    assert json.loads(outcome.reply)["rejected"] == [{"index": 0, "reason": reason}]
    assert list(Observation.objects.filter(device=device).values_list("msg_index", "value")) == [(1, 72.0)]
    assert IngestRejection.objects.get(device=device).index == 0


def test_a_nan_rejects_the_whole_message_visibly_and_stores_nothing(device, obs_at):
    # given a payload with NaN, which JSON does not allow
    now = _now()
    body = b'{"msg_id": "nan-1", "observations": [{"type": "spo2", "value": NaN, "unit": "%", "measured_at": "%s"}]}'
    body = body.replace(b"%s", now.isoformat().encode())

    # when it is handled
    outcome = handle_message(obs_at, body, now)

    # then nothing is stored and the rejection is recorded with the start of the payload
    assert outcome.error == "payload contains NaN or Infinity, which JSON does not allow"
    assert not Observation.objects.exists()
    rejection = IngestRejection.objects.get()
    assert (rejection.device, rejection.index, rejection.topic) == (device, None, obs_at)
    assert rejection.excerpt.startswith('{"msg_id": "nan-1"')


def test_a_payload_over_64_kib_is_rejected_whole_with_only_an_excerpt_kept(device, obs_at):
    # given a payload one byte over the limit
    body = payload("obs_invalid_too_large.json")

    # when it is handled
    outcome = handle_message(obs_at, body, MANIFEST_RECEIVED_AT)

    # then it is refused and the record keeps a short excerpt, not the whole payload
    error = "payload exceeds 65536 bytes"
    assert json.loads(outcome.reply) == {"msg_id": None, "accepted": 0, "rejected": [], "error": error}
    rejection = IngestRejection.objects.get()
    assert 0 < len(rejection.excerpt) <= 200
    assert not ReceivedMessage.objects.exists()


def test_bytes_that_are_not_utf8_are_recorded_without_breaking_the_record(device, obs_at):
    # given raw binary with NUL bytes
    body = b"\x00\xff\xfe binary \x00"

    # when it is handled
    outcome = handle_message(obs_at, body, _now())

    # then it is refused and recorded with a printable excerpt
    assert outcome.error == "payload is not UTF-8"
    assert "\x00" not in IngestRejection.objects.get().excerpt


def test_a_message_from_an_unknown_device_is_dropped_recorded_and_answered(db):
    # given a topic naming a device the platform never paired
    topic = obs_topic("dev-stranger")
    now = _now()

    # when it publishes a perfectly valid message
    outcome = handle_message(topic, obs_json("m-1", _heart_rate(80, now)), now)

    # then nothing is stored as patient data, the attempt is recorded and answered
    assert not Observation.objects.exists()
    assert not ReceivedMessage.objects.exists()
    rejection = IngestRejection.objects.get()
    assert (rejection.device, rejection.device_ref, rejection.msg_id) == (None, "dev-stranger", "m-1")
    assert rejection.reason == "device 'dev-stranger' is not registered"
    assert json.loads(outcome.reply)["error"] == rejection.reason
    assert outcome.reply_topic == ack_topic("dev-stranger")


def test_a_message_from_a_revoked_device_is_never_stored_as_patient_data(db):
    # given a device whose credentials were revoked
    now = _now()
    device = DeviceFactory(revoked_at=now - timedelta(minutes=1))

    # when a message from it still reaches the platform
    outcome = handle_message(obs_topic(device.device_id), obs_json("m-1", _heart_rate(80, now)), now)

    # then it is dropped and recorded against the device
    assert not Observation.objects.exists()
    assert outcome.error == "device is revoked"
    assert IngestRejection.objects.get().device == device


def test_a_message_from_a_device_with_no_patient_is_never_stored(db):
    # given a registered device not (or no longer) paired with a patient
    now = _now()
    device = DeviceFactory(patient=None)

    # when it publishes
    outcome = handle_message(obs_topic(device.device_id), obs_json("m-1", _heart_rate(80, now)), now)

    # then nothing is stored and the reason is recorded
    assert not Observation.objects.exists()
    assert outcome.error == "device is not paired with a patient"
    assert IngestRejection.objects.get().device == device


def test_a_topic_outside_the_protocol_is_recorded_and_not_answered(db):
    # given a message on a malformed device topic
    now = _now()

    # when it is handled
    outcome = handle_message("vw/v1/devices//obs", obs_json("m-1", _heart_rate(80, now)), now)

    # then it is recorded, nothing is stored, and there is nobody to answer
    assert outcome.reply is None
    assert IngestRejection.objects.get().reason == "topic is not a device protocol topic"
    assert not Observation.objects.exists()


def test_a_device_publishing_on_its_ack_topic_is_refused(device):
    # given a device publishing where only the platform may
    now = _now()

    # when it is handled
    outcome = handle_message(ack_topic(device.device_id), b"{}", now)

    # then it is recorded and nothing is stored
    assert outcome.error == "devices may not publish on ack"
    assert IngestRejection.objects.get().device == device


def test_one_bad_message_does_not_lose_the_good_messages_in_its_batch(db):
    # given a batch from three devices, one of them sending garbage
    now = _now()
    good_a, bad, good_b = DeviceFactory(), DeviceFactory(), DeviceFactory()
    batch = [
        Incoming(obs_topic(good_a.device_id), obs_json("a-1", _heart_rate(70, now)), now),
        Incoming(obs_topic(bad.device_id), b"{not json", now),
        Incoming(obs_topic(good_b.device_id), obs_json("b-1", _heart_rate(90, now)), now),
    ]

    # when the batch is handled
    outcomes = handle_batch(batch)

    # then each message has its own outcome, in order, and both good readings are stored
    assert [(o.accepted, o.error) for o in outcomes] == [(1, None), (0, "payload is not valid JSON"), (1, None)]
    assert set(Observation.objects.values_list("device", flat=True)) == {good_a.pk, good_b.pk}
