"""`make run`'s Mosquitto has the listener split of docker-compose: the platform's processes on one
listener, devices on their own where the broker takes the username as the client id."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from devices import broker_auth
from devices.credentials import secret_generate, secret_hash
from tests.broker.mqtt import Session
from tests.factories import DeviceFactory
from virtualward.embedded import free_port
from virtualward.management.commands.runplatform import Broker, Supervisor, start_broker

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(60)]


@pytest.fixture
def make_run_broker(tmp_path, settings) -> Iterator[tuple[Broker, list[str]]]:
    """The broker `make run` starts on a machine with Mosquitto and no MQTT_URL; its conf lines."""
    if broker_auth.mosquitto_binary() is None:
        if os.environ.get("CI") == "true" or os.environ.get("VW_REQUIRE_SERVICES") == "true":
            pytest.fail("CI requires mosquitto for make run's broker test")
        pytest.skip("mosquitto is not installed: make run then uses the embedded broker (one listener)")
    settings.VAR_DIR = tmp_path
    settings.MQTT_BROKER_DIR = tmp_path / "mosquitto"
    settings.MQTT_URL = settings.MQTT_USERNAME = settings.MQTT_PASSWORD = ""
    supervisor = Supervisor(env=dict(os.environ), colour=False)
    broker = start_broker(supervisor, free_port(), free_port())
    try:
        yield broker, (settings.MQTT_BROKER_DIR / broker_auth.CONF_NAME).read_text().splitlines()
    finally:
        supervisor.stop(supervisor.children, grace=5)


def listener_options(conf: list[str], url: str) -> list[str]:
    """The lines that follow ``listener <port> <host>`` for ``url``, up to the next listener."""
    port = url.rsplit(":", 1)[1]
    start = conf.index(f"listener {port} 127.0.0.1") + 1
    end = next((i for i in range(start, len(conf)) if conf[i].startswith("listener ")), len(conf))
    return conf[start:end]


def test_make_runs_mosquitto_ties_the_client_id_to_the_username_on_the_devices_listener_only(make_run_broker):
    broker, conf = make_run_broker
    # then there are two listeners: the platform's (MQTT_URL) and the devices' (pairing's address)
    assert broker.kind == "mosquitto" and broker.device_url and broker.device_url != broker.url
    assert sum(line.startswith("listener ") for line in conf) == 2
    # and only the devices' takes the username as the client id (the platform's processes share
    # one account and each keep a session of their own)
    assert "use_username_as_clientid true" in listener_options(conf, broker.device_url)
    assert "use_username_as_clientid true" not in listener_options(conf, broker.url)


def test_on_make_runs_device_listener_a_device_cannot_knock_another_offline(make_run_broker, settings):
    broker, _ = make_run_broker
    # given two paired devices with their own broker passwords, written to the running broker
    secrets = {DeviceFactory(secret_hash="").device_id: secret_generate() for _ in range(2)}
    for device_id, secret in secrets.items():
        DeviceFactory._meta.model.objects.filter(device_id=device_id).update(secret_hash=secret_hash(secret))
    assert broker_auth.broker_refresh(settings.MQTT_BROKER_DIR)
    (victim_id, victim_secret), (attacker_id, attacker_secret) = secrets.items()
    victim = _session(broker.device_url, victim_id, victim_secret, client_id=victim_id)
    try:
        # when the second device connects to the devices' listener under the first one's client id
        attacker = Session(broker.device_url, attacker_id, attacker_secret, client_id=victim_id)
        # then both are connected: the broker gave the attacker its own username as client id
        assert attacker.accepted
        assert not victim.disconnected.wait(1.5)
        attacker.close()
    finally:
        victim.close()


def _session(url: str, username: str, password: str, *, client_id: str) -> Session:
    """A session, retried while the broker re-reads its password file after the SIGHUP."""
    for _ in range(20):
        session = Session(url, username, password, client_id=client_id)
        if session.accepted:
            return session
        session.close()
        time.sleep(0.1)
    raise AssertionError(f"{username} was never accepted on {url}")
