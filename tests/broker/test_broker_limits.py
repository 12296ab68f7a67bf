"""The generated Mosquitto configuration's durability and size limits, checked on the real broker."""

from __future__ import annotations

import json
import uuid

from django.utils import timezone

from devices import broker_auth
from devices.protocol import MAX_PAYLOAD_BYTES
from tests.broker.mqtt import Session

SHARED = "$share/vw-ingest/vw/v1/devices/+/obs"


def padded_obs(size: int) -> bytes:
    """A protocol obs message padded (with an ignored field) to exactly ``size`` bytes."""
    body = {
        "msg_id": str(uuid.uuid4()),
        "observations": [
            {"type": "heart_rate", "value": 88, "unit": "/min", "measured_at": timezone.now().isoformat()}
        ],
        "pad": "",
    }
    base = len(json.dumps(body).encode())
    body["pad"] = "x" * (size - base)
    payload = json.dumps(body).encode()
    assert len(payload) == size
    return payload


def test_the_generated_config_saves_every_second_and_limits_packets_and_abandoned_sessions(db, settings, tmp_path):
    # given the platform's broker directory
    settings.VAR_DIR = tmp_path

    # when the configuration is written
    conf = broker_auth.broker_config_write(tmp_path / "mq", host="127.0.0.1", port=18832).read_text().splitlines()

    # then the store is saved each second, packets past 64 KiB and headers are refused, and a
    # persistent session that never comes back is dropped after an hour
    assert "autosave_interval 1" in conf
    assert f"max_packet_size {MAX_PAYLOAD_BYTES + 1024}" in conf
    assert "persistent_client_expiration 1h" in conf


def test_the_broker_passes_a_64_kib_message_and_refuses_a_2_mib_one(broker, pair_device):
    # given a paired device and the platform listening on the shared subscription
    paired = pair_device()
    account = broker_auth.platform_mqtt_account()
    platform = Session(broker.url, account.username, account.password)
    platform.subscribe(SHARED)
    device = Session(broker.url, paired.device_id, paired.secret, client_id=paired.device_id)
    assert device.accepted

    # when the device publishes a message of exactly 64 KiB, then one of 2 MiB
    device.publish(paired.topics["obs"], padded_obs(MAX_PAYLOAD_BYTES))
    first = platform.next_message()
    device.client.publish(paired.topics["obs"], b"x" * (2 * 1024 * 1024), qos=1)

    # then the first reaches the platform, and the second costs the device its connection
    # and never reaches the platform
    assert first is not None and len(first[1]) == MAX_PAYLOAD_BYTES
    assert device.disconnected.wait(5)
    assert platform.next_message(timeout=1) is None
    device.close(), platform.close()


def test_on_the_device_listener_a_device_cannot_knock_another_offline_with_its_client_id(
    db, tmp_path, settings, pair_device
):
    # given the generated broker with a device listener next to the platform's, and two devices
    # (pair_device's broker fixture only supplies the registry's files; this test runs its own)
    from virtualward.embedded import free_port

    first, second = pair_device(), pair_device()
    device_port = free_port()
    with broker_auth.mosquitto_run(tmp_path / "own", port=free_port(), device_port=device_port) as running:
        devices_url = f"mqtt://127.0.0.1:{device_port}"
        victim = Session(devices_url, first.device_id, first.secret, client_id=first.device_id)
        assert victim.accepted

        # when the second device connects there under the first one's client id
        attacker = Session(devices_url, second.device_id, second.secret, client_id=first.device_id)

        # then the broker took the attacker's username as its client id: the first stays connected
        assert attacker.accepted
        assert not victim.disconnected.wait(1.5)
        conf = (running.directory / "mosquitto.conf").read_text().splitlines()
        assert conf[conf.index(f"listener {device_port} 127.0.0.1") + 1] == "use_username_as_clientid true"
        victim.close(), attacker.close()


def test_without_a_device_port_the_config_has_no_device_listener(db, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.VW_MQTT_DEVICE_PORT = 0
    conf = broker_auth.broker_config_write(tmp_path / "mq", host="127.0.0.1", port=18833).read_text()
    assert conf.count("listener ") == 1 and "use_username_as_clientid" not in conf
