"""The bench's private Mosquitto: the platform's generated configuration plus the fleet's account."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import pytest

from benchmarks.broker import own_broker, with_credentials
from devices.broker_auth import mosquitto_binary, platform_mqtt_account

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(mosquitto_binary() is None, reason="needs the mosquitto binary"),
]


def _connect(url: str, username: str | None = None, password: str | None = None) -> tuple[mqtt.Client, int]:
    parts = urlsplit(url)
    connected = threading.Event()
    result = {}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    if parts.username:
        username, password = unquote(parts.username), unquote(parts.password or "")
    if username:
        client.username_pw_set(username, password)

    def on_connect(client, userdata, flags, reason_code, properties):
        result["code"] = reason_code.value
        connected.set()

    client.on_connect = on_connect
    client.connect(parts.hostname, parts.port, keepalive=10)
    client.loop_start()
    assert connected.wait(5), "no CONNACK"
    return client, result["code"]


def _round_trip(publisher: mqtt.Client, subscriber: mqtt.Client, topic: str) -> bool:
    got = threading.Event()
    subscribed = threading.Event()
    subscriber.on_message = lambda client, userdata, message: got.set()
    subscriber.on_subscribe = lambda *args: subscribed.set()
    subscriber.subscribe(topic, qos=1)
    assert subscribed.wait(5)
    publisher.publish(topic, b"{}", qos=1)
    return got.wait(3)


def test_the_bench_broker_admits_the_platform_and_the_fleet_and_refuses_strangers(tmp_path: Path):
    # given the bench's own broker
    with own_broker(tmp_path) as (platform_url, fleet_url):
        account = platform_mqtt_account()
        # when the platform, the fleet and an anonymous client connect
        platform, platform_code = _connect(platform_url, account.username, account.password)
        fleet, fleet_code = _connect(fleet_url)
        anonymous, anonymous_code = _connect(platform_url)
        try:
            # then the two accounts are in, the stranger is refused (allow_anonymous false)
            assert (platform_code, fleet_code) == (0, 0)
            assert anonymous_code != 0
            # and the fleet's readings reach the platform, and its baseline root reaches itself
            assert _round_trip(fleet, platform, "vw/v1/devices/dev-bench-00001/obs")
            assert _round_trip(fleet, fleet, "vwbench/v1/devices/dev-bench-00001/obs")
        finally:
            for client in (platform, fleet, anonymous):
                client.loop_stop()
                client.disconnect()
    # and its log is kept with the bench's other logs
    assert (tmp_path / "mosquitto.log").exists()


def test_credentials_in_a_broker_url_are_quoted():
    assert with_credentials("mqtt://127.0.0.1:1883", "a b", "p@ss/:") == "mqtt://a%20b:p%40ss%2F%3A@127.0.0.1:1883"
