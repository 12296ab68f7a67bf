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
