"""End to end through a real broker and `manage.py ingest`: one network's hubs drop, one incident.

Hubs connect as the simulator's do (client id = device id, a retained `status` with their
network, a Last Will saying offline); five on one mobile network then lose their connections
at once, without a goodbye, so the broker publishes their Last Wills. Ingest records each
dropout; the next sweep folds them into one incident the board shows.
"""

from __future__ import annotations

import time
import uuid
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import pytest
from django.utils import timezone

from accounts.models import Role
from alerts.models import ConnectivityIncident, IncidentMember
from devices.connectivity import sweep_connectivity
from devices.models import ConnectivityGap, Device
from devices.protocol import status_topic
from devices.simulator import status_payload
from tests.factories import DeviceFactory, PatientFactory, UserFactory, WardFactory
from tests.ingest.test_e2e import EMBEDDED_BROKER, needs

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.timeout(90)]


def _hub(mqtt_url: str, device_id: str, operator: str) -> mqtt.Client:
    parts = urlsplit(mqtt_url)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id)
    client.will_set(status_topic(device_id), status_payload("offline"), qos=1, retain=True)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=30)
    client.loop_start()
    network = {"type": "cellular", "operator": operator, "rssi_dbm": -91, "technology": "4G"}
    hello = status_payload("online", 80, network)
    client.publish(status_topic(device_id), hello, qos=1, retain=True).wait_for_publish(5)
    return client


def _until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_one_networks_hubs_dropping_through_the_broker_become_one_incident_on_the_board(mqtt_url, ingests, client):
    needs(EMBEDDED_BROKER, "the embedded broker does not publish Last Wills reliably")
    # given eight paired hubs, five on mobile network 23415 and three on 23420, connected through ingest
    run = uuid.uuid4().hex[:6]
    ward = WardFactory()
    hubs = {
        DeviceFactory(device_id=f"e2e-{run}-{n}", patient=PatientFactory(ward=ward), expected_interval_s=60).device_id:
        ("23415" if n < 5 else "23420")
        for n in range(8)
    }  # fmt: skip
    ingests(f"outage-e2e-{run}", f"outage-{run}")
    clients = {device_id: _hub(mqtt_url, device_id, operator) for device_id, operator in hubs.items()}
    try:
        _until(lambda: Device.objects.filter(device_id__in=hubs, network_at__isnull=False).count() == 8, 20, "status")
        # when the five on 23415 lose their connections at once (no DISCONNECT: the broker sends their wills)
        lost = [device_id for device_id, operator in hubs.items() if operator == "23415"]
        for device_id in lost:
            clients[device_id].loop_stop()
            clients[device_id].socket().close()
        _until(lambda: ConnectivityGap.objects.filter(cause="last_will").count() == 5, 30, "the Last Wills")
        sweep_connectivity(now=timezone.now())
        # then the five are one incident on that network, the other three still online
        incident = ConnectivityIncident.objects.get()
        assert (incident.group_kind, incident.group_value, incident.state) == ("operator", "23415", "open")
        assert set(IncidentMember.objects.values_list("device__device_id", flat=True)) == set(lost)
        assert Device.objects.filter(device_id__in=hubs, connectivity="online").count() == 3
        # and the command centre's board shows it
        client.force_login(UserFactory(username=f"cc-{run}", role=Role.OPERATOR))
        page = " ".join(client.get("/wards/").content.decode().split())
        assert "5 devices on mobile network 23415 silent since" in page
    finally:
        for device_id, hub in clients.items():
            if device_id not in lost:
                hub.disconnect()
                hub.loop_stop()
        _forget_retained(mqtt_url, list(hubs))


def _forget_retained(mqtt_url: str, device_ids: list[str]) -> None:
    """Clear the retained status messages this test left on the shared broker."""
    parts = urlsplit(mqtt_url)
    cleaner = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"outage-cleaner-{uuid.uuid4().hex[:6]}")
    cleaner.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
    cleaner.loop_start()
    for device_id in device_ids:
        cleaner.publish(status_topic(device_id), b"", qos=1, retain=True).wait_for_publish(5)
    cleaner.disconnect()
    cleaner.loop_stop()
