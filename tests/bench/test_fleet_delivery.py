"""The bench's fleet keeps each message until acked and resends it, as every device must."""

from __future__ import annotations

import json
import threading
import uuid

import paho.mqtt.client as mqtt

from benchmarks.fleet import StepOutcome, StepPlan, _AckBook, merge_outcomes, run_step
from devices.outbox import Outbox, publish_due


class FakeClock:
    now = 100.0

    def __call__(self) -> float:
        return self.now


class RecordingClient:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        self.published.append((topic, payload))


def _ack(msg_id: str, accepted: int) -> bytes:
    return json.dumps({"msg_id": msg_id, "accepted": accepted, "rejected": []}).encode()


def test_a_message_whose_ack_is_late_is_resent_once_and_its_latency_counts_from_the_first_publish():
    # given a message published, kept by the fleet's outbox with a 30 s timeout
    clock = FakeClock()
    book = _AckBook(StepOutcome(tag="p0r10"), Outbox(clock=clock, jitter=0.0))
    book.expect("p0r10.0.1", published_at=0.0, obs_count=4, topic="vw/v1/devices/d/obs", payload=b"{...}")
    client = RecordingClient()

    # when 30 s pass without an ack, then the ack comes
    publish_due(book.outbox, client)
    clock.now += 30
    publish_due(book.outbox, client)
    book.on_ack(_ack("p0r10.0.1", 4))
    clock.now += 600
    publish_due(book.outbox, client)

    # then the same bytes went out again exactly once, and the message is settled
    assert client.published == [("vw/v1/devices/d/obs", b"{...}")]
    assert book.pending == {} and len(book.outbox) == 0
    assert book.outbox.resends == 1


def test_the_step_adds_up_each_publishers_resends():
    parts = [StepOutcome(tag="p0r10", resent=2), StepOutcome(tag="p0r10", resent=3)]
    assert merge_outcomes(parts).resent == 5


def test_through_a_broker_every_message_a_platform_ignored_once_is_resent_and_then_acked(mqtt_url):
    # given a platform (on a topic root of the test's own) that ignores the first copy of each message
    root = f"vwtest-{uuid.uuid4().hex[:8]}/v1/devices/"
    host, port = mqtt_url.removeprefix("mqtt://").split(":")
    seen: dict[str, int] = {}
    subscribed = threading.Event()
    platform = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"vw-test-{uuid.uuid4().hex[:8]}")

    def on_message(client, userdata, message):
        msg_id = json.loads(message.payload)["msg_id"]
        seen[msg_id] = seen.get(msg_id, 0) + 1
        if seen[msg_id] == 2:
            count = len(json.loads(message.payload)["observations"])
            client.publish(message.topic.removesuffix("/obs") + "/ack", _ack(msg_id, count), qos=1)

    platform.on_connect = lambda c, *a: c.subscribe(f"{root}+/obs", qos=1)
    platform.on_subscribe = lambda *a: subscribed.set()
    platform.on_message = on_message
    platform.connect(host, int(port))
    platform.loop_start()
    assert subscribed.wait(5)

    # when the fleet runs a one-second step of 20 messages with an ack timeout of half a second
    plan = StepPlan(
        mqtt_url=mqtt_url,
        topic_root=root,
        tag="p0r20",
        device_ids=("dev-a", "dev-b"),
        alert_device_ids=(),
        rate=20.0,
        seconds=1.0,
        drain_timeout_s=15.0,
        ack_timeout_s=0.5,
    )
    outcome = run_step(plan)
    platform.disconnect()
    platform.loop_stop()

    # then every message went out twice with its msg_id, all were acked, none is left unacked
    assert outcome.published == 20 and outcome.unacked == 0
    assert outcome.resent == 20
    assert sorted(seen.values()) == [2] * 20
    assert min(outcome.ack_latencies) >= 0.5
