"""A device paired from the patient page sends a CSR when it collects its credentials with its factory
key, and receives a client certificate for its own key (mutual TLS), as a gateway does at pairing."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from rest_framework.test import APIClient

from devices.models import Device, DeviceCertificate
from tests.broker.tls import device_key_and_csr
from tests.pairing.conftest import STOCK_CLAIM_KEY

COLLECT = "/api/v1/pairing/collect/"


def collect(device: Device, csr: str, *, claim_key: str = STOCK_CLAIM_KEY, address: str = "203.0.113.50"):
    body = {"serial": device.serial, "claim_key": claim_key, "csr": csr}
    return APIClient().post(COLLECT, body, format="json", REMOTE_ADDR=address)


def subject(pem: str) -> str:
    certificate = x509.load_pem_x509_certificate(pem.encode())
    return certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def csr_for(key, common_name: str = "any") -> str:  # type: ignore[no-untyped-def]
    request = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    return request.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def test_a_device_collecting_with_its_factory_key_and_a_csr_receives_a_certificate_for_its_key(
    certs, paired_from_the_page
):
    # given the device's own key and its CSR
    key_pem, csr = device_key_and_csr()
    # when it collects its credentials with them
    response = collect(paired_from_the_page, csr)
    # then it receives its id, a secret, and a certificate naming its id, for the key it holds,
    # signed by the CA it is given too
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["device_id"] == paired_from_the_page.device_id and body["secret"]
    assert subject(body["certificate"]) == body["device_id"]
    certificate = x509.load_pem_x509_certificate(body["certificate"].encode())
    certificate.verify_directly_issued_by(x509.load_pem_x509_certificate(body["ca_certificate"].encode()))
    own_key = serialization.load_pem_private_key(key_pem, password=None)
    assert certificate.public_key().public_numbers() == own_key.public_key().public_numbers()
    # and the platform keeps the certificate's serial number, never a key
    record = DeviceCertificate.objects.get(device=paired_from_the_page)
    assert record.serial_number == format(certificate.serial_number, "x") and record.revoked_at is None


def test_a_csr_naming_another_device_gets_a_certificate_for_the_collecting_device_only(certs, paired_from_the_page):
    # given a CSR whose subject names another device
    other = csr_for(ec.generate_private_key(ec.SECP256R1()), common_name="dev-someone-else")
    # when the device collects with it
    response = collect(paired_from_the_page, other)
    # then the certificate names the collecting device, whatever the request asked for
    assert response.status_code == 200, response.content
    assert subject(response.json()["certificate"]) == paired_from_the_page.device_id != "dev-someone-else"


@pytest.mark.parametrize(
    ("csr", "why"),
    [
        ("-----BEGIN CERTIFICATE REQUEST-----\njunk\n-----END CERTIFICATE REQUEST-----\n", "not a PEM-encoded"),
        ("not pem at all", "not a PEM-encoded"),
        (csr_for(rsa.generate_private_key(public_exponent=65537, key_size=1024)), "at least 2048 bits"),
        (csr_for(ec.generate_private_key(ec.SECP192R1())), "at least 256 bits"),
    ],
    ids=["garbled", "not-pem", "rsa-1024", "p-192"],
)
def test_a_bad_csr_is_refused_with_its_reason_and_collects_nothing(certs, paired_from_the_page, csr, why):
    # when the device collects with a request the platform cannot certify
    response = collect(paired_from_the_page, csr)
    # then it is refused, saying why, and nothing was collected: no secret, no certificate
    assert response.status_code == 400, response.content
    assert response.json()["reason"] == "certificate_request_invalid" and why in response.json()["detail"]
    device = Device.objects.get(pk=paired_from_the_page.pk)
    assert device.secret_hash == "" and device.credentials_issued_at is None
    assert not DeviceCertificate.objects.filter(device=device).exists()
    # and the device can still collect, with a good request
    assert collect(paired_from_the_page, device_key_and_csr()[1]).status_code == 200


def test_a_csr_whose_signature_does_not_match_its_key_is_refused(certs, paired_from_the_page):
    # given a CSR for one key whose signature was made by another (it proves no key is held)
    genuine = x509.load_pem_x509_csr(device_key_and_csr()[1].encode())
    forged_der = bytearray(genuine.public_bytes(serialization.Encoding.DER))
    forged_der[-10] ^= 0xFF  # a byte of the signature
    forged = x509.load_der_x509_csr(bytes(forged_der)).public_bytes(serialization.Encoding.PEM).decode()
    # then it is refused
    response = collect(paired_from_the_page, forged)
    assert response.status_code == 400 and "signature" in response.json()["detail"]
    assert response.json()["reason"] == "certificate_request_invalid"
    # and nothing was collected
    device = Device.objects.get(pk=paired_from_the_page.pk)
    assert device.secret_hash == "" and device.credentials_issued_at is None
    assert not DeviceCertificate.objects.filter(device=device).exists()


def test_bad_csrs_do_not_count_as_guesses_at_a_factory_key(settings, certs, paired_from_the_page):
    # given the guessing limit, and a device that sent bad requests past it
    settings.VW_PAIRING_MAX_FAILURES = 2
    for _ in range(3):
        assert collect(paired_from_the_page, "not pem at all").status_code == 400
    # then its good request is not throttled
    assert collect(paired_from_the_page, device_key_and_csr()[1]).status_code == 200


def test_a_csr_with_a_wrong_factory_key_gets_no_certificate(certs, paired_from_the_page):
    response = collect(paired_from_the_page, device_key_and_csr()[1], claim_key="not-the-factory-key")
    assert response.status_code == 400 and response.json()["reason"] == "device_not_recognised"
    assert not DeviceCertificate.objects.exists()


def test_a_second_collection_with_a_csr_is_refused_and_issues_no_second_certificate(certs, paired_from_the_page):
    assert collect(paired_from_the_page, device_key_and_csr()[1]).status_code == 200
    again = collect(paired_from_the_page, device_key_and_csr()[1])
    assert again.status_code == 400 and again.json()["reason"] == "already_collected"
    assert DeviceCertificate.objects.filter(device=paired_from_the_page).count() == 1


def test_a_csr_where_no_ca_key_is_configured_is_refused_clearly_and_collects_nothing(settings, paired_from_the_page):
    settings.VW_TLS_CA_CERT_FILE = settings.VW_TLS_CA_KEY_FILE = ""
    response = collect(paired_from_the_page, device_key_and_csr()[1])
    assert response.status_code == 400 and response.json()["reason"] == "certificates_unavailable"
    assert Device.objects.get(pk=paired_from_the_page.pk).credentials_issued_at is None


def test_under_required_mutual_tls_a_device_that_collects_a_certificate_is_sent_to_the_certificate_port(
    settings, certs, paired_from_the_page
):
    settings.MQTT_PUBLIC_URL = "mqtts://mqtt.ward.example:8883"
    settings.VW_MQTT_REQUIRE_CERTIFICATE, settings.VW_MQTT_PASSWORD_PORT = True, 8884
    response = collect(paired_from_the_page, device_key_and_csr()[1])
    assert response.status_code == 200, response.content
    assert response.json()["certificate"]
    assert response.json()["mqtt"] == {"host": "mqtt.ward.example", "port": 8883, "tls": True}
