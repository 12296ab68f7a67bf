"""Network information from a device's status: stored on the device, kept in a history, shown."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from devices.ingest import handle_message
from devices.models import Device, IngestRejection, NetworkReport
from devices.protocol import status_topic
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db


def _status(network: object) -> bytes:
    return json.dumps({"state": "online", "battery": 70, "network": network}).encode()


def test_a_status_with_network_information_is_stored_on_the_device_and_in_its_history():
    # given a paired device
    device = DeviceFactory()
    now = datetime.now(UTC)
    network = {"type": "cellular", "operator": "23415", "rssi_dbm": -97, "technology": "4G", "cell": "2341512345"}
    # when it says how it is connected
    outcome = handle_message(status_topic(device.device_id), _status(network), now)
    # then the status is accepted, the device holds the report, and the history keeps it
    assert outcome.error is None
    device.refresh_from_db()
    assert (device.network_type, device.network_operator, device.network_rssi_dbm) == ("cellular", "23415", -97)
    assert (device.network_technology, device.network_cell, device.network_at) == ("4G", "2341512345", now)
    history = NetworkReport.objects.filter(device=device, patient=device.patient)
    assert list(history.values_list("operator", "rssi_dbm")) == [("23415", -97)]
    assert device.connectivity == "online"


def test_a_bad_network_field_is_recorded_as_a_rejection_and_the_rest_is_stored():
    # given a device whose report has an impossible signal strength
    device = DeviceFactory()
    now = datetime.now(UTC)
    # when it reports
    handle_message(status_topic(device.device_id), _status({"type": "cellular", "rssi_dbm": 12, "cell": "777"}), now)
    # then the bad field is dropped with its reason where staff can see it, the rest is kept
    device.refresh_from_db()
    assert (device.network_type, device.network_rssi_dbm, device.network_cell) == ("cellular", None, "777")
    rejection = IngestRejection.objects.get(device=device)
    assert "network.rssi_dbm must be an integer from -140 to 0 dBm (got 12)" in rejection.reason
    # and the cell id, personal data, is not copied into the rejection
    assert "777" not in rejection.excerpt
    # and the status itself still counted as contact
    assert device.connectivity == "online" and device.battery == 70


def test_an_older_report_arriving_late_goes_into_the_history_but_not_over_the_newest():
    device = DeviceFactory()
    now = datetime.now(UTC)
    handle_message(status_topic(device.device_id), _status({"type": "wifi"}), now)
    handle_message(status_topic(device.device_id), _status({"type": "cellular"}), now - timedelta(minutes=5))
    assert Device.objects.get(pk=device.pk).network_type == "wifi"
    assert NetworkReport.objects.filter(device=device).count() == 2


def test_the_device_api_and_the_patient_page_show_the_network(client, django_user_model):
    # given a device that reported its network, and an administrator
    from accounts.models import Role, StaffProfile

    device = DeviceFactory()
    handle_message(
        status_topic(device.device_id),
        _status({"type": "cellular", "operator": "23430", "rssi_dbm": -101, "technology": "LTE-M"}),
        datetime.now(UTC),
    )
    user = django_user_model.objects.create_user("admin", password="pw-long-enough-1")
    StaffProfile.objects.create(user=user, role=Role.ADMINISTRATOR)
    client.force_login(user)
    # when the device is read through the API and the patient page is opened
    body = client.get(f"/api/v1/devices/{device.pk}/").json()
    page = client.get(f"/patients/{device.patient_id}/").content.decode()
    # then both show the network
    assert body["network"]["operator"] == "23430" and body["network"]["rssi_dbm"] == -101
    assert "23430 LTE-M, signal -101 dBm" in " ".join(page.split())
