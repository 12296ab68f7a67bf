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
