"""What ingest tells the other apps: contact, readings, battery, status, rescoring and falls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devices.ingest import Incoming, handle_batch, handle_message
from devices.models import IngestRejection
from devices.protocol import obs_topic, status_topic
from patients.models import Observation
from tests.factories import DeviceFactory
from tests.ingest.conftest import MANIFEST_RECEIVED_AT, obs_json, payload

pytestmark = pytest.mark.django_db


def _reading(kind: str, value: object, unit: str, at: datetime) -> dict:
    return {"type": kind, "value": value, "unit": unit, "measured_at": at.isoformat()}


def test_a_stored_batch_reports_contact_newest_reading_and_battery_once(device, obs_at, effect_calls):
    # given two messages from one device, the second with a newer reading and battery
    now = datetime.now(UTC)
    first = obs_json("c-1", _reading("heart_rate", 70, "/min", now - timedelta(minutes=2)), battery=80)
    second = obs_json("c-2", _reading("heart_rate", 72, "/min", now - timedelta(minutes=1)), battery=79)
    later = now + timedelta(seconds=1)

    # when they are handled as one batch
    handle_batch([Incoming(obs_at, first, now), Incoming(obs_at, second, later)])

    # then connectivity hears once, with the newest of each
    assert effect_calls.contacts == [
        {
            "contacts": {device.pk: later},
            "readings": {device.pk: now - timedelta(minutes=1)},
            "batteries": {device.pk: (79, later)},
        }
    ]


def test_new_readings_ask_for_the_patient_to_be_rescored_and_duplicates_do_not(device, obs_at, effect_calls):
    # given a message handled once
    body = payload("obs_spec_example.json")
    handle_message(obs_at, body, MANIFEST_RECEIVED_AT)

    # when it is redelivered
    handle_message(obs_at, body, MANIFEST_RECEIVED_AT)

    # then only the first delivery asked for a rescore
    assert effect_calls.rescores == [{device.patient_id}]


def test_a_malformed_message_still_counts_as_contact_but_not_as_a_reading(device, obs_at, effect_calls):
    # given a device sending garbage
    now = datetime.now(UTC)

    # when it is handled
    handle_message(obs_at, b"garbage", now)

    # then the device was heard from, but no reading or rescore is reported
    assert effect_calls.contacts == [{"contacts": {device.pk: now}, "readings": {}, "batteries": {}}]
    assert effect_calls.rescores == []


def test_a_fall_raises_an_alert_naming_the_stored_observation(device, obs_at, effect_calls):
    # given a fall event among other readings
    now = datetime.now(UTC)
    fall = {"type": "fall_detected", "value": True, "measured_at": now.isoformat()}
    body = obs_json("fall-1", _reading("heart_rate", 90, "/min", now), fall)

    # when it is handled
    handle_message(obs_at, body, now)

    # then the fall alert names the stored fall observation
    fall = Observation.objects.get(type="fall_detected")
    assert effect_calls.falls == [
        {"patient_id": device.patient_id, "observation_id": fall.pk, "measured_at": fall.measured_at}
    ]


def test_a_redelivered_fall_does_not_raise_a_second_alert(device, obs_at, effect_calls):
    # given a fall already stored
    now = datetime.now(UTC)
    body = obs_json("fall-2", {"type": "fall_detected", "value": True, "measured_at": now.isoformat()})
    handle_message(obs_at, body, now)

    # when it is redelivered
    handle_message(obs_at, body, now)

    # then only one alert was asked for
    assert len(effect_calls.falls) == 1


def test_a_live_status_is_passed_to_connectivity(device, status_at, effect_calls):
    # given a device announcing itself online
    now = datetime.now(UTC)

    # when the status arrives
    outcome = handle_message(status_at, payload("status_online.json"), now)

    # then connectivity records it, and no ack is sent for status
    assert effect_calls.statuses == [{"device_pk": device.pk, "state": "online", "battery": 81, "at": now}]
    assert outcome.reply is None


def test_a_retained_status_replayed_by_the_broker_is_not_taken_as_news(device, status_at, effect_calls):
    # given the broker replaying a device's stored "online" on (re)subscribe
    now = datetime.now(UTC)

    # when it arrives with the retain flag
    handle_message(status_at, payload("status_online.json"), now, retained=True)

    # then the device is not treated as heard from now
    assert effect_calls.statuses == []


def test_a_last_will_after_the_final_reading_leaves_the_device_offline(device, obs_at, status_at, effect_calls):
    # given a reading and then the device's Last Will in the same batch
    now = datetime.now(UTC)
    events: list[str] = []
    reading = obs_json("w-1", _reading("heart_rate", 70, "/min", now))

    # when the batch is handled
    handle_batch([Incoming(obs_at, reading, now), Incoming(status_at, payload("status_offline.json"), now)])

    # then the offline status is applied after the contact
    events = ["contact" if c else "" for c in effect_calls.contacts]
    assert events == ["contact"]
    assert effect_calls.statuses[0]["state"] == "offline"


def test_an_invalid_status_is_recorded_for_staff(device, status_at, effect_calls):
    # given a status with a state the protocol does not know
    now = datetime.now(UTC)

    # when it is handled
    outcome = handle_message(status_at, payload("status_invalid_state.json"), now)

    # then it is recorded and connectivity is not told
    assert outcome.error == "state 'sleeping' is not online or offline"
    assert IngestRejection.objects.get().device == device
    assert effect_calls.statuses == []


def test_a_status_from_an_unknown_device_is_recorded_and_ignored(db, effect_calls):
    # given a status from an id nobody paired
    now = datetime.now(UTC)

    # when it is handled
    handle_message(status_topic("dev-nobody"), payload("status_online.json"), now)

    # then it is recorded and nothing else happens
    assert IngestRejection.objects.get().device_ref == "dev-nobody"
    assert effect_calls.statuses == []


def test_a_batch_costs_the_same_queries_for_ten_messages_as_for_eighty(db, django_assert_max_num_queries):
    # given ten and eighty messages from five devices, with rejections and duplicates
    now = datetime.now(UTC)
    devices = [DeviceFactory() for _ in range(5)]

    def batch(tag: str, size: int) -> list[Incoming]:
        # the last two messages are redeliveries of messages 0 and 5 (both from device 0)
        numbers = [n if n < size - 2 else (n - size + 2) * 5 for n in range(size)]
        readings = (_reading("spo2", 95, "%", now), _reading("spo2", 150, "%", now))
        return [Incoming(obs_topic(devices[n % 5].device_id), obs_json(f"{tag}-{n}", *readings), now) for n in numbers]

    handle_batch(batch("warm", 10))
    with CaptureQueriesContext(connection) as small:
        handle_batch(batch("small", 10))

    # when a batch eight times the size is handled (within one insert on SQLite's 999-parameter
    # limit, which Django respects; PostgreSQL has no such limit)
    # then it takes no more round trips than the small one
    with django_assert_max_num_queries(len(small.captured_queries)):
        handle_batch(batch("large", 80))
    assert Observation.objects.count() == 8 + 8 + 78


def test_a_stored_reading_updates_the_devices_connectivity_record(device, obs_at):
    # given a device not yet heard from
    now = datetime.now(UTC)

    # when its reading is stored (through the real devices.connectivity service)
    handle_message(obs_at, obs_json("seen-1", _reading("heart_rate", 70, "/min", now), battery=64), now)

    # then the device is recorded as seen, with its newest reading and battery
    device.refresh_from_db()
    assert (device.last_seen_at, device.last_reading_at, device.battery) == (now, now, 64)
