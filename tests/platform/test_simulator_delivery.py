"""The simulator's devices keep each reading until the platform acks it, and resend it until then."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime

import paho.mqtt.client as mqtt

from devices.protocol import ack_payload, ack_topic
from devices.simulator import DeviceLink, Publish, Simulator, build_devices
from fixtures import demo_plan


def wait_until(condition, timeout: float = 8.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


class Platform:
    """Plays the platform: records every obs, and acks a msg_id only from its second arrival."""

    def __init__(self, url: str, device_id: str) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        self.arrivals: list[str] = []
        self.subscribed = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"vw-test-platform-{uuid.uuid4().hex[:8]}"
        )
        self.client.on_connect = lambda c, *a: c.subscribe(f"vw/v1/devices/{device_id}/obs", qos=1)
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, int(port))
        self.client.loop_start()
        assert self.subscribed.wait(5)

    def _on_message(self, client, userdata, message) -> None:
        msg_id = json.loads(message.payload)["msg_id"]
        self.arrivals.append(msg_id)
        if self.arrivals.count(msg_id) == 2:  # the first copy is "lost": no ack for it
            device_id = message.topic.split("/")[3]
            client.publish(ack_topic(device_id), ack_payload(msg_id, 1, []), qos=1)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_simulated_device_resends_an_unacked_reading_with_its_msg_id_until_the_platform_acks_it(mqtt_url):
    # given a simulated device whose ack timeout is half a second, and a platform that ignores
    # the first copy of every message
    device = next(d for d in build_devices(demo_plan.demo_patients(), seed=5) if d.is_patch)
    platform = Platform(mqtt_url, device.device_id)
    link = DeviceLink(device, mqtt_url, None, ack_timeout_s=0.5)
    link.connect()
    assert link.acks_subscribed.wait(5)

    # when it takes a reading
    readings = device._measure(0.0, datetime.now(UTC))
    reading = next(action for action in readings if isinstance(action, Publish) and action.msg_id)
    link.send(reading)
    resent = wait_until(lambda: (link.flush(), not link.outbox)[1])

    # then the same msg_id arrived twice, and once acked the device keeps nothing and sends no more
    assert resent, f"still kept after 8 s; the platform saw {platform.arrivals}"
    assert platform.arrivals == [reading.msg_id, reading.msg_id]
    time.sleep(1.2)
    link.flush()
    time.sleep(0.2)
    assert platform.arrivals == [reading.msg_id, reading.msg_id]
    link.close()
    # Leave no retained status behind on a shared broker.
    platform.client.publish(f"vw/v1/devices/{device.device_id}/status", b"", qos=1, retain=True).wait_for_publish(2)
    platform.close()


def test_readings_a_stopped_simulator_left_unacked_are_resent_by_its_next_run(mqtt_url, tmp_path):
    # given a simulator run that stops with a reading still unacknowledged
    device = next(d for d in build_devices(demo_plan.demo_patients(), seed=6) if d.is_patch)
    path = tmp_path / "sim-outbox.json"
    first = Simulator([device], mqtt_url, speed=1.0, credentials={}, outbox_path=path)
    reading = next(a for a in device._measure(0.0, datetime.now(UTC)) if isinstance(a, Publish) and a.msg_id)
    first.links[device.device_id].outbox.add(reading.msg_id, "vw/v1/devices/nowhere/obs", reading.payload)
    first.run(threading.Event(), duration=0.3, tick_s=0.05)

    # when the simulator starts again, with a platform listening
    platform = Platform(mqtt_url, "nowhere")
    second = Simulator([device], mqtt_url, speed=1.0, credentials={}, outbox_path=path)
    second.run(threading.Event(), duration=1.5, tick_s=0.05)

    # then the kept reading went out again, same msg_id, and is still kept until acked
    assert reading.msg_id in platform.arrivals
    assert reading.msg_id in second.links[device.device_id].outbox
    platform.client.publish(f"vw/v1/devices/{device.device_id}/status", b"", qos=1, retain=True).wait_for_publish(2)
    platform.close()
