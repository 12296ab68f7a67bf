"""Devices and ingest rejections over the API: read-only, scoped, and never a secret."""

from __future__ import annotations

import pytest
from django.utils import timezone

from devices.models import IngestRejection
from tests.factories import DeviceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def devices(patient_a, patient_b):
    return {
        "a": DeviceFactory(patient=patient_a, secret_hash="pbkdf2_sha256$secret"),
        "b": DeviceFactory(patient=patient_b),
        "spare": DeviceFactory(patient=None),
    }


def reject(device, reason, device_ref=""):
    return IngestRejection.objects.create(
        device=device, device_ref=device_ref or (device.device_id if device else "ghost"),
        topic="vw/v1/devices/x/obs", msg_id="m1", index=0 if device else None, reason=reason,
        received_at=timezone.now(),
    )  # fmt: skip


def ids(response):
    return sorted(row["id"] for row in response.json()["results"])


def test_a_clinician_sees_only_their_patients_devices(api_as, clinician_a, devices):
    assert ids(api_as(clinician_a).get("/api/v1/devices/")) == [devices["a"].pk]
    assert api_as(clinician_a).get(f"/api/v1/devices/{devices['b'].pk}/").status_code == 404


def test_an_operator_sees_every_device_including_unpaired_ones(api_as, operator, devices):
    assert ids(api_as(operator).get("/api/v1/devices/")) == sorted(d.pk for d in devices.values())


def test_a_device_never_shows_its_secret(api_as, operator, devices):
    body = api_as(operator).get(f"/api/v1/devices/{devices['a'].pk}/").json()
    assert "secret_hash" not in body
    assert "secret" not in str(body)
    assert body["device_id"] == devices["a"].device_id
    assert body["connectivity"] == "unknown"


def test_devices_are_read_only(api_as, administrator, devices):
    response = api_as(administrator).patch(f"/api/v1/devices/{devices['a'].pk}/", {"serial": "x"}, format="json")
    assert response.status_code == 405


def test_rejections_are_visible_to_staff_and_filter_by_device(api_as, clinician_a, operator, devices):
    # given rejections from ward A's device, ward B's device and an unknown device
    mine = reject(devices["a"], "spo2 value 150 outside 50-100 %")
    theirs = reject(devices["b"], "heart_rate unit missing")
    ghost = reject(None, "unknown device")
    # then the clinician sees only their patient's device's rejections; the operator sees all
    assert ids(api_as(clinician_a).get("/api/v1/rejections/")) == [mine.pk]
    assert ids(api_as(operator).get("/api/v1/rejections/")) == sorted([mine.pk, theirs.pk, ghost.pk])
    by_device = api_as(operator).get("/api/v1/rejections/", {"device": devices["b"].pk})
    assert ids(by_device) == [theirs.pk]
    assert by_device.json()["results"][0]["reason"] == "heart_rate unit missing"


def test_a_clinician_cannot_filter_rejections_by_another_wards_device(api_as, clinician_a, devices):
    response = api_as(clinician_a).get("/api/v1/rejections/", {"device": devices["b"].pk})
    assert response.status_code == 400
    assert "device" in response.json()
