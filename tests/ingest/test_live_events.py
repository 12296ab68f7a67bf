"""Ingest's live events reach every dashboard group through Redis, a batch in one round trip."""

import asyncio

import pytest
import redis.asyncio
from channels.layers import channel_layers, get_channel_layer
from django.test import override_settings

from frontend import events


@pytest.fixture
def redis_layer(redis_url):
    """The production channel layer (Redis pub/sub) on the test Redis, under a private prefix."""
    config = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": "perf-test-live"},
        }
    }
    with override_settings(CHANNEL_LAYERS=config):
        channel_layers.backends.clear()
        yield get_channel_layer()
    channel_layers.backends.clear()


def _event(n):
    return {
        "type": "live.event",
        "event": "observations.recorded",
        "ward_id": 3,
        "patient_id": 7,
        "at": "",
        "data": {"n": n},
    }


def test_a_batch_of_events_reaches_the_ward_the_command_centre_and_the_patient(redis_layer, monkeypatch):
    # given a dashboard channel in each of the three groups, and a count of Redis round trips
    pipelines = []
    execute = redis.asyncio.client.Pipeline.execute

    async def counting(self, *args, **kwargs):
        pipelines.append(len(self.command_stack))
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.asyncio.client.Pipeline, "execute", counting)

    async def scenario():
        channel = await redis_layer.new_channel()
        for group in (events.ward_group(3), events.ALL_WARDS_GROUP, events.patient_group(7)):
            await redis_layer.group_add(group, channel)
        # when ingest's sender sends a batch of five events
        await events._send_all(redis_layer, [_event(n) for n in range(5)])
        received = [await asyncio.wait_for(redis_layer.receive(channel), 5) for _ in range(15)]
        await redis_layer.flush()
        return received

    received = asyncio.run(scenario())
    # then every event arrived once per group, and the fifteen publishes went out together
    assert sorted(message["data"]["n"] for message in received) == sorted(list(range(5)) * 3)
    assert pipelines == [15]


def test_a_patient_only_event_reaches_the_patient_page_alone():
    # given an event meant for one patient's page / then it names only that patient's group
    message = {**_event(0), "patient_only": True}
    assert events._groups(message) == [events.patient_group(7)]
    # and a ward-wide event still reaches the ward, the command centre and the patient
    assert events._groups(_event(0)) == [events.ward_group(3), events.ALL_WARDS_GROUP, events.patient_group(7)]


def test_a_patient_only_event_without_a_patient_is_refused():
    with pytest.raises(ValueError, match="patient_id"):
        events.publish("observations.recorded", ward_id=3, data={}, patient_only=True)


@pytest.mark.django_db
def test_a_batch_tells_each_ward_once_and_each_patient_page_once(monkeypatch):
    # given two patients on one ward and one on another, each with a device
    from datetime import UTC, datetime

    from devices.ingest import Incoming, handle_batch
    from tests.factories import DeviceFactory, PatientFactory, WardFactory
    from tests.ingest.conftest import obs_json

    sent = []
    monkeypatch.setattr("devices.ingest.batch.publish", lambda event, **kw: sent.append((event, kw)))
    ward_a, ward_b = WardFactory(), WardFactory()
    devices = [DeviceFactory(patient=PatientFactory(ward=ward)) for ward in (ward_a, ward_a, ward_b)]
    now = datetime.now(UTC)
    reading = {"type": "heart_rate", "value": 70, "unit": "/min", "measured_at": now.isoformat()}
    # when one batch brings two messages from each device
    handle_batch(
        [
            Incoming(f"vw/v1/devices/{device.device_id}/obs", obs_json(f"m{n}", reading), now)
            for n in range(2)
            for device in devices
        ]
    )
    # then each patient's page hears once, with both messages counted
    pages = [kw for event, kw in sent if kw.get("patient_only")]
    assert sorted(kw["patient_id"] for kw in pages) == sorted(d.patient_id for d in devices)
    assert all(kw["data"]["count"] == 2 for kw in pages)
    # and each ward's boards hear once, naming that ward's patients
    boards = {kw["ward_id"]: kw for event, kw in sent if not kw.get("patient_only")}
    assert set(boards) == {ward_a.pk, ward_b.pk}
    assert set(boards[ward_a.pk]["data"]["patients"]) == {str(devices[0].patient_id), str(devices[1].patient_id)}
    assert "patient_id" not in boards[ward_a.pk]
