"""The bench's dashboard listener hears every alert, however long it sat idle before it."""

import asyncio
import time

import pytest
from channels.layers import channel_layers, get_channel_layer
from channels_redis.pubsub import RedisPubSubLoopLayer
from django.test import override_settings

from benchmarks import alertwatch
from benchmarks.alertwatch import AlertWatch
from frontend import events


@pytest.fixture
def redis_layer(redis_url):
    config = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url], "prefix": "perf-test-watch"},
        }
    }
    with override_settings(CHANNEL_LAYERS=config):
        channel_layers.backends.clear()
        yield
    channel_layers.backends.clear()


def _raised(patient_id):
    return {"type": "live.event", "event": "alert.raised", "ward_id": 1, "patient_id": patient_id, "at": "", "data": {}}


def test_alerts_sent_after_idle_polls_all_reach_the_watch_and_its_receive_is_never_cancelled(
    redis_layer, monkeypatch
):
    # given a watch whose poll interval is short, and a count of receives the layer saw cancelled
    monkeypatch.setattr(alertwatch, "_POLL_S", 0.02)
    cancelled = []
    inner_type = RedisPubSubLoopLayer
    original = inner_type.receive

    async def counting_receive(self, channel):
        try:
            return await original(self, channel)
        except asyncio.CancelledError:
            cancelled.append(channel)
            raise

    monkeypatch.setattr(inner_type, "receive", counting_receive)
    watch = AlertWatch()
    watch.start()
    try:
        # when it idles through many polls, then alerts for five patients are sent apart
        time.sleep(0.3)
        for patient_id in range(1, 6):
            asyncio.run(events._send_all(get_channel_layer(), [_raised(patient_id)]))
            time.sleep(0.05)
        deadline = time.monotonic() + 5
        while len(watch.raised_at) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watch.stop()
    # then all five were heard, and no receive was cancelled while it listened
    assert sorted(watch.raised_at) == [1, 2, 3, 4, 5]
    assert len(cancelled) <= 1  # only the last one, at stop
