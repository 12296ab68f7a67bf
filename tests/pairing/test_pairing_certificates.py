"""Device client certificates at pairing: issued for the device's own key, revoked with the pairing."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from rest_framework.test import APIClient

from devices.models import Device, DeviceCertificate
from devices.pairing import device_unpair, pairing_code_issue, pairing_complete
from tests.broker.tls import device_key_and_csr


@pytest.fixture
def issue_code(patient, clinician):
    return lambda: pairing_code_issue(patient=patient, user=clinician).code


def common_name(pem: str) -> str:
    certificate = x509.load_pem_x509_certificate(pem.encode())
    return certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def test_a_gateway_that_sends_a_csr_receives_a_certificate_for_its_device_id_and_the_ca(
    certs, issue_code, stock_device
):
    # given a device's own key and its CSR
    _, csr = device_key_and_csr()
    # when the gateway pairs with it
    response = APIClient().post(
        "/api/v1/pairing/", {"code": issue_code(), "serial": stock_device.serial, "csr": csr}, format="json"
    )
    # then it receives a certificate naming the new device id, signed by the CA it is also given
    assert response.status_code == 201, response.content
    body = response.json()
    assert common_name(body["certificate"]) == body["device_id"]
    certificate = x509.load_pem_x509_certificate(body["certificate"].encode())
    certificate.verify_directly_issued_by(x509.load_pem_x509_certificate(body["ca_certificate"].encode()))
    # and the platform keeps its serial number, never a key
    record = DeviceCertificate.objects.get(device=stock_device)
    assert record.serial_number == format(certificate.serial_number, "x")
    assert body["secret"]  # the password still works where the certificate cannot be used


def test_a_bad_csr_is_refused_without_using_up_the_code(certs, issue_code, stock_device):
    code = issue_code()
    refused = APIClient().post(
        "/api/v1/pairing/", {"code": code, "serial": stock_device.serial, "csr": "-----BEGIN junk"}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json()["reason"] == "certificate_request_invalid"
    # the code still pairs the device
    assert pairing_complete(code=code, serial=stock_device.serial).device_id


def test_a_csr_where_no_ca_key_is_configured_is_refused_clearly(settings, issue_code, stock_device):
    settings.VW_TLS_CA_CERT_FILE = settings.VW_TLS_CA_KEY_FILE = ""
    _, csr = device_key_and_csr()
    refused = APIClient().post(
        "/api/v1/pairing/", {"code": issue_code(), "serial": stock_device.serial, "csr": csr}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["reason"] == "certificates_unavailable"


def test_pairing_the_same_device_again_revokes_its_earlier_certificate(certs, issue_code, stock_device):
    _, csr = device_key_and_csr()
    pairing_complete(code=issue_code(), serial=stock_device.serial, csr=csr)
    first = DeviceCertificate.objects.get(device=stock_device)

    pairing_complete(code=issue_code(), serial=stock_device.serial, csr=csr)

    first.refresh_from_db()
    assert first.revoked_at is not None
    assert DeviceCertificate.objects.filter(device=stock_device, revoked_at__isnull=True).count() == 1


def test_unpairing_revokes_the_devices_certificate(certs, issue_code, stock_device, clinician):
    _, csr = device_key_and_csr()
    pairing_complete(code=issue_code(), serial=stock_device.serial, csr=csr)

    device_unpair(device=Device.objects.get(pk=stock_device.pk), user=clinician, reason="lost")

    assert DeviceCertificate.objects.get(device=stock_device).revoked_at is not None


def test_under_required_mutual_tls_a_device_without_a_certificate_is_sent_to_the_password_port(
    settings, certs, issue_code, stock_device
):
    settings.MQTT_PUBLIC_URL = "mqtts://mqtt.ward.example:8883"
    settings.VW_MQTT_REQUIRE_CERTIFICATE, settings.VW_MQTT_PASSWORD_PORT = True, 8884
    without = pairing_complete(code=issue_code(), serial=stock_device.serial)
    _, csr = device_key_and_csr()
    with_certificate = pairing_complete(code=issue_code(), serial=stock_device.serial, csr=csr)
    assert without.mqtt == {"host": "mqtt.ward.example", "port": 8884, "tls": True}
    assert with_certificate.mqtt == {"host": "mqtt.ward.example", "port": 8883, "tls": True}
