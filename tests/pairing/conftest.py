from __future__ import annotations

import io

import pytest
from django.core.cache import cache
from django.core.management import call_command

from devices.credentials import claim_key_hash
from devices.models import Device
from devices.pairing import pairing_code_issue, pairing_complete
from tests.broker.tls import CertificateSet
from tests.factories import DeviceFactory, PatientFactory, UserFactory

# The factory key the stock device was supplied with (what its firmware holds).
STOCK_CLAIM_KEY = "factory-key-of-the-stock-device"


@pytest.fixture(autouse=True)
def isolated_pairing(settings, tmp_path):
    """Broker files in a temporary directory, no broker to publish to, no leftover guess counts."""
    settings.VAR_DIR = tmp_path
    settings.MQTT_BROKER_DIR = tmp_path / "mosquitto"
    settings.MQTT_URL = ""
    settings.MQTT_USERNAME = settings.MQTT_PASSWORD = ""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def patient(db):
    return PatientFactory()


@pytest.fixture
def clinician(patient):
    user = UserFactory()
    patient.ward.staff.add(user)
    return user


@pytest.fixture
def stock_device(db):
    """A device registered in stock by its serial and factory key, not yet paired with anyone."""
    return DeviceFactory(patient=None, paired_at=None, secret_hash="", claim_key_hash=claim_key_hash(STOCK_CLAIM_KEY))


@pytest.fixture
def certs(settings, tmp_path) -> CertificateSet:
    """The CA, broker and platform certificates of `manage.py tls_certs`; the CA signs at pairing."""
    call_command("tls_certs", dir=tmp_path / "tls", stdout=io.StringIO())
    found = CertificateSet(tmp_path / "tls")
    settings.VW_TLS_CA_CERT_FILE, settings.VW_TLS_CA_KEY_FILE = found.ca, found.ca_key
    return found


@pytest.fixture
def paired_from_the_page(patient, clinician, stock_device):
    """The patient has paired the stock device from /pair/: the device has not collected yet."""
    issued = pairing_code_issue(patient=patient, user=clinician)
    pairing_complete(code=issued.code, serial=stock_device.serial, issue_credentials=False, via="patient page")
    return Device.objects.get(pk=stock_device.pk)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Factories set staff passwords; the production hasher would make each user cost ~0.5 s.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
