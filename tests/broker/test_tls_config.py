"""The TLS lines of the generated mosquitto.conf, the CA command and the CRL (no broker needed)."""

from __future__ import annotations

import datetime as dt
import io
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from devices import broker_auth, certificates, pki
from devices.models import DeviceCertificate
from tests.broker.tls import CertificateSet, device_key_and_csr
from tests.factories import DeviceFactory


@pytest.fixture
def certs(tmp_path) -> CertificateSet:
    call_command("tls_certs", dir=tmp_path / "tls", host=["mqtt.ward.example"], stdout=io.StringIO())
    return CertificateSet(tmp_path / "tls")


@pytest.fixture
def tls_settings(settings, certs, tmp_path):
    settings.MQTT_BROKER_DIR = tmp_path / "mosquitto"
    settings.VW_MQTT_TLS_CERTFILE, settings.VW_MQTT_TLS_KEYFILE = certs.cert("server"), certs.key("server")
    settings.VW_TLS_CA_CERT_FILE, settings.VW_TLS_CA_KEY_FILE = certs.ca, certs.ca_key
    settings.VW_MQTT_REQUIRE_CERTIFICATE = False
    settings.VW_MQTT_PASSWORD_PORT = settings.VW_MQTT_LOOPBACK_PORT = 0
    return settings


def conf_lines(host: str = "0.0.0.0", port: int = 8883) -> list[str]:
    return broker_auth.broker_config_write(host=host, port=port).read_text().splitlines()


# --- the generated configuration -----------------------------------------------------------------


@pytest.mark.django_db
def test_plain_mqtt_on_a_public_address_is_refused_with_the_settings_to_fix_it(settings, tmp_path):
    # given no TLS certificate for the broker
    settings.MQTT_BROKER_DIR = tmp_path / "mosquitto"
    settings.VW_MQTT_TLS_CERTFILE = settings.VW_MQTT_TLS_KEYFILE = ""
    # when a listener on every interface is asked for, then the config is refused
    with pytest.raises(ImproperlyConfigured, match="VW_MQTT_TLS_CERTFILE"):
        conf_lines("0.0.0.0")
    # while plain MQTT on loopback (development) is still written
    assert "listener 1883 127.0.0.1" in conf_lines("127.0.0.1", 1883)


@pytest.mark.django_db
def test_the_tls_listener_requires_tls_1_2_at_least_and_forward_secret_ciphers(tls_settings):
    lines = conf_lines()
    at = lines.index("listener 8883 0.0.0.0")
    tls = lines[at + 1 : at + 5]
    assert tls[:3] == [
        f"certfile {tls_settings.VW_MQTT_TLS_CERTFILE}",
        f"keyfile {tls_settings.VW_MQTT_TLS_KEYFILE}",
        "tls_version tlsv1.2",
    ]
    assert tls[3].startswith("ciphers ") and all(s.startswith("ECDHE-") for s in tls[3][8:].split(":"))
    # and passwords, not certificates, identify clients in this shape
    assert "require_certificate true" not in lines and "allow_anonymous false" in lines


@pytest.mark.django_db
def test_a_deployment_can_require_tls_1_3_only(tls_settings):
    tls_settings.VW_MQTT_TLS_VERSION = "tlsv1.3"
    assert "tls_version tlsv1.3" in conf_lines()
    tls_settings.VW_MQTT_TLS_VERSION = "tlsv1.0"
    with pytest.raises(ImproperlyConfigured, match="VW_MQTT_TLS_VERSION"):
        conf_lines()


@pytest.mark.django_db
def test_mutual_tls_maps_the_certificate_to_the_username_checks_the_crl_and_keeps_a_password_port(tls_settings):
    # given a deployment that requires certificates, with a password listener for other devices
    tls_settings.VW_MQTT_REQUIRE_CERTIFICATE = True
    tls_settings.VW_MQTT_PASSWORD_PORT = 8884
    tls_settings.VW_MQTT_LOOPBACK_PORT = 1883
    lines = conf_lines()
    crl = tls_settings.MQTT_BROKER_DIR / "crl.pem"
    # then the device listener demands a certificate of the platform's CA, checked against the CRL
    main = lines[lines.index("listener 8883 0.0.0.0") : lines.index("listener 8884 0.0.0.0")]
    for expected in (
        f"cafile {tls_settings.VW_TLS_CA_CERT_FILE}",
        "require_certificate true",
        "use_identity_as_username true",
        f"crlfile {crl}",
    ):
        assert expected in main
    assert x509.load_pem_x509_crl(crl.read_bytes()).is_signature_valid(
        pki.authority_load(tls_settings.VW_TLS_CA_CERT_FILE, tls_settings.VW_TLS_CA_KEY_FILE).certificate.public_key()
    )
    # and the password listener is TLS too, without demanding a certificate; plain only on loopback
    extra = lines[lines.index("listener 8884 0.0.0.0") : lines.index("listener 1883 127.0.0.1")]
    assert "tls_version tlsv1.2" in extra and "require_certificate true" not in extra
    assert lines[-1] == "listener 1883 127.0.0.1"


@pytest.mark.django_db
def test_mutual_tls_without_the_ca_key_to_sign_a_crl_is_refused(tls_settings):
    tls_settings.VW_MQTT_REQUIRE_CERTIFICATE = True
    tls_settings.VW_TLS_CA_KEY_FILE = ""
    with pytest.raises(ImproperlyConfigured, match="VW_TLS_CA_KEY_FILE"):
        conf_lines()


# --- the CRL ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_crl_lists_revoked_unexpired_certificates_only(tls_settings, tmp_path):
    # given three certificates: one live, one revoked, one revoked but already expired
    device = DeviceFactory()
    now = timezone.now()
    rows = {
        name: DeviceCertificate.objects.create(
            device=device, common_name=device.device_id, serial_number=serial, fingerprint_sha256="0" * 64,
            issued_at=now, not_after=not_after, revoked_at=revoked,
        )
        for name, serial, not_after, revoked in (
            ("live", "a1", now + dt.timedelta(days=30), None),
            ("revoked", "b2", now + dt.timedelta(days=30), now),
            ("expired", "c3", now - dt.timedelta(days=1), now - dt.timedelta(days=2)),
        )
    }  # fmt: skip
    path = tmp_path / "crl.pem"
    # when the CRL is written
    assert certificates.crl_refresh(path)
    # then only the revoked, unexpired one is on it, and an unchanged set is not rewritten
    crl = x509.load_pem_x509_crl(path.read_bytes())
    assert {entry.serial_number for entry in crl} == {int(rows["revoked"].serial_number, 16)}
    assert not certificates.crl_refresh(path)
    assert crl.next_update_utc - crl.last_update_utc >= dt.timedelta(days=pki.CRL_DAYS)


@pytest.mark.django_db
def test_a_discharged_patients_device_certificate_goes_on_the_crl(tls_settings, tmp_path):
    # given a live certificate of a device whose patient is then discharged
    device = DeviceFactory()
    now = timezone.now()
    live = DeviceCertificate.objects.create(
        device=device, common_name=device.device_id, serial_number="d4", fingerprint_sha256="0" * 64,
        issued_at=now, not_after=now + dt.timedelta(days=30),
    )  # fmt: skip
    path = tmp_path / "crl.pem"
    certificates.crl_refresh(path)
    assert not list(x509.load_pem_x509_crl(path.read_bytes()))
    device.patient.discharged_at = now
    device.patient.save(update_fields=["discharged_at"])
    # when the CRL is refreshed (broker_config --run does so every few seconds)
    assert certificates.crl_refresh(path)
    # then the certificate is on it
    assert {entry.serial_number for entry in x509.load_pem_x509_crl(path.read_bytes())} == {int(live.serial_number, 16)}


# --- the CA command ---------------------------------------------------------------------------------


def test_tls_certs_makes_a_ca_a_broker_certificate_for_every_name_and_keys_only_the_owner_reads(certs):
    # then the broker's certificate names the configured host and loopback, signed by the CA
    server = x509.load_pem_x509_certificate((certs.directory / "server.crt").read_bytes())
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"mqtt.ward.example", "localhost"} <= set(names.get_values_for_type(x509.DNSName))
    assert "127.0.0.1" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    server.verify_directly_issued_by(certs.authority().certificate)
    # and every private key is readable by its owner only
    for key in certs.directory.glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_tls_certs_keeps_an_existing_ca_and_refuses_half_of_one(certs):
    before = (certs.directory / "ca.crt").read_bytes()
    call_command("tls_certs", dir=certs.directory, renew=True, stdout=io.StringIO())
    assert (certs.directory / "ca.crt").read_bytes() == before
    (certs.directory / "ca.key").unlink()
    with pytest.raises(CommandError, match="half a CA"):
        call_command("tls_certs", dir=certs.directory, stdout=io.StringIO())


# --- certificate requests -----------------------------------------------------------------------------


def test_a_csr_is_certified_for_the_platforms_name_not_the_one_it_asks_for(certs):
    _, csr = device_key_and_csr(subject="vw-platform")
    issued = pki.client_certificate_issue(certs.authority(), "dev-0123456789ab", csr_pem=csr.encode())
    assert issued.key is None
    assert issued.certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "dev-0123456789ab"


@pytest.mark.parametrize(
    ("request_pem", "reason"),
    [
        (b"not a request", "not a PEM-encoded PKCS#10 request"),
        ("small-rsa", "at least 2048 bits"),
        ("tampered", "signature does not match its key"),
    ],
)
def test_an_unusable_csr_is_refused_with_its_reason(request_pem, reason):
    if request_pem == "tampered":  # a request whose signature was not made by its key's holder
        import base64

        _, pem = device_key_and_csr()
        der = bytearray(x509.load_pem_x509_csr(pem.encode()).public_bytes(serialization.Encoding.DER))
        der[-5] ^= 0x01
        body = base64.encodebytes(bytes(der)).decode()
        request_pem = f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n".encode()
    if request_pem == "small-rsa":
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "x")])
        request_pem = (
            x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
        ).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(pki.CertificateRequestError, match=reason):
        pki.csr_public_key(request_pem)
