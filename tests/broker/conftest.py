"""A real Mosquitto per test, started on a free port with the configuration the platform writes.

Under CI=true Mosquitto must be installed and these tests never skip; elsewhere they skip with
the reason when the binary is missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from devices import broker_auth
from devices.pairing import PairingResult, pairing_code_issue, pairing_complete
from tests.factories import DeviceFactory, PatientFactory, UserFactory
from virtualward.embedded import free_port


@pytest.fixture
def broker(db, tmp_path, settings) -> Iterator[broker_auth.RunningBroker]:
    if broker_auth.mosquitto_binary() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI requires mosquitto for the broker tests (apt-get install mosquitto)")
        pytest.skip("mosquitto is not installed: broker tests need the real broker")
    port = free_port()
    settings.VAR_DIR = tmp_path
    settings.MQTT_BROKER_DIR = tmp_path / "mosquitto"
    settings.MQTT_USERNAME = settings.MQTT_PASSWORD = ""
    settings.MQTT_URL = settings.MQTT_PUBLIC_URL = f"mqtt://127.0.0.1:{port}"
    with broker_auth.mosquitto_run(settings.MQTT_BROKER_DIR, host="127.0.0.1", port=port) as running:
        yield running


@pytest.fixture
def pair_device(broker, django_capture_on_commit_callbacks):
    """Pair a new stock device with a new patient, as a gateway would; returns its credentials."""

    def pair(**patient_fields) -> PairingResult:
        clinician = UserFactory()
        patient = PatientFactory(**patient_fields)
        patient.ward.staff.add(clinician)
        device = DeviceFactory(patient=None, paired_at=None, secret_hash="")
        with django_capture_on_commit_callbacks(execute=True):
            issued = pairing_code_issue(patient=patient, user=clinician)
        with django_capture_on_commit_callbacks(execute=True):
            return pairing_complete(code=issued.code, serial=device.serial)

    return pair


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Factories set staff passwords; the production hasher would make each user cost ~0.5 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
