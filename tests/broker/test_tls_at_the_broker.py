"""Zero trust on the wire, proven against a real Mosquitto (issue 18, docs/security.md).

Each test runs its own broker on free ports from the platform's generated configuration, with
certificates from ``manage.py tls_certs`` in a temporary directory, in the deployment's strict
shape: mutual TLS required on the device port, a password TLS listener beside it. Without
mosquitto these skip, except in CI (VW_REQUIRE_SERVICES=true or CI=true), where they fail.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import ssl
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from django.core.management import call_command

from devices import broker_auth, pki
from devices.models import DeviceCertificate
from devices.mqtt_tls import BrokerTrustError, ClientTls, broker_check, tls_context
from devices.pairing import PairingResult, device_unpair, pairing_code_issue, pairing_complete
from devices.protocol import ack_topic, obs_topic
from tests.broker.tls import CertificateSet, TlsSession, device_key_and_csr, write_identity
from tests.factories import DeviceFactory, PatientFactory, UserFactory
from tests.processes import needs
from tests.processes import shared_database_url as subprocess_database_url
from virtualward.embedded import free_port

pytestmark = pytest.mark.timeout(90)

IN_CI = os.environ.get("CI") == "true" or os.environ.get("VW_REQUIRE_SERVICES") == "true"
BASE_DIR = Path(__file__).resolve().parents[2]


def require_mosquitto() -> None:
    if broker_auth.mosquitto_binary() is None:
        if IN_CI:
            pytest.fail("CI requires mosquitto for the TLS broker tests (apt-get install mosquitto)")
        pytest.skip("mosquitto is not installed: the TLS tests need the real broker")


@pytest.fixture
def certs(tmp_path: Path) -> CertificateSet:
    directory = tmp_path / "tls"
    call_command("tls_certs", dir=directory, stdout=io.StringIO())
    return CertificateSet(directory)


class TlsBroker:
    def __init__(self, running: broker_auth.RunningBroker, port: int, password_port: int) -> None:
        self.running, self.port, self.password_port = running, port, password_port

    def reload(self, settle_s: float = 0.5) -> None:
        assert self.running.reload()
        time.sleep(settle_s)  # SIGHUP is handled by Mosquitto's main loop, not at once


@pytest.fixture
def tls_broker(db, tmp_path, settings, certs) -> Iterator[TlsBroker]:
    require_mosquitto()
    port, password_port = free_port(), free_port()
    settings.VAR_DIR = tmp_path
    settings.MQTT_BROKER_DIR = tmp_path / "mosquitto"
    settings.MQTT_USERNAME = settings.MQTT_PASSWORD = ""
    settings.VW_TLS_CA_CERT_FILE, settings.VW_TLS_CA_KEY_FILE = certs.ca, certs.ca_key
    settings.VW_MQTT_TLS_CERTFILE, settings.VW_MQTT_TLS_KEYFILE = certs.cert("server"), certs.key("server")
    settings.VW_MQTT_REQUIRE_CERTIFICATE = True
    settings.VW_MQTT_PASSWORD_PORT = password_port
    settings.VW_MQTT_LOOPBACK_PORT = 0
    settings.MQTT_URL = settings.MQTT_PUBLIC_URL = f"mqtts://localhost:{port}"
    settings.MQTT_CA_FILE = certs.ca
    settings.MQTT_CERT_FILE, settings.MQTT_KEY_FILE = certs.cert("vw-platform"), certs.key("vw-platform")
    with broker_auth.mosquitto_run(settings.MQTT_BROKER_DIR, host="127.0.0.1", port=port) as running:
        # A handshake is served from Mosquitto's main loop, which starts after its signal
        # handlers: only then may a test send SIGHUP (before, it would end the broker).
        broker_check("localhost", port, certs.client("vw-platform"))
        yield TlsBroker(running, port, password_port)


@pytest.fixture
def pair_with_csr(tls_broker, tmp_path, django_capture_on_commit_callbacks):
    """Pair a stock device that sends a CSR; returns the pairing and the device's TLS identity."""

    def pair() -> tuple[PairingResult, ClientTls]:
        clinician, patient = UserFactory(), PatientFactory()
        patient.ward.staff.add(clinician)
        device = DeviceFactory(patient=None, paired_at=None, secret_hash="")
        key_pem, csr = device_key_and_csr()
        with django_capture_on_commit_callbacks(execute=True):
            issued = pairing_code_issue(patient=patient, user=clinician)
        with django_capture_on_commit_callbacks(execute=True):
            result = pairing_complete(code=issued.code, serial=device.serial, csr=csr)
        identity = write_identity(tmp_path / "device", result.device_id, result.extra["certificate"].encode(), key_pem)
        ca_file = tmp_path / "device" / "ca.crt"
        ca_file.write_text(result.extra["ca_certificate"])
        return result, ClientTls(str(ca_file), identity.cert_file, identity.key_file)

    return pair


@pytest.fixture
def shared_database_url(transactional_db) -> str:
    url = subprocess_database_url()
    needs(url is None, "the ingest subprocess cannot share an in-memory SQLite test database")
    return url or ""


def _foreign_identity(tmp_path: Path, common_name: str, **issue: object) -> ClientTls:
    other = pki.authority_create("Someone else's CA")
    issued = pki.client_certificate_issue(other, common_name, **issue)  # type: ignore[arg-type]
    return write_identity(tmp_path / "foreign", common_name, issued.pem, issued.key_pem)


# --- devices proving who they are -----------------------------------------------------------------


def test_a_device_with_its_pairing_certificate_connects_and_its_reading_is_acknowledged_by_ingest(
    pair_with_csr, tls_broker, certs, tmp_path, shared_database_url
):
    # given a device paired with a CSR, and the ingest service running against the TLS broker
    result, identity = pair_with_csr()
    ingest = _start_ingest(tmp_path, tls_broker.port, certs, shared_database_url)
    try:
        device = TlsSession.with_identity(tls_broker.port, identity)
        assert device.accepted, device.error
        device.subscribe(ack_topic(result.device_id))

        # when it publishes a reading with its key and no password
        device.publish(obs_topic(result.device_id), _reading_payload("tls-1"))

        # then ingest, itself connected over mutual TLS, stores it and acknowledges it
        topic, body = device.wait_message(timeout=20)
        device.close()
    finally:
        log = _stop(ingest, tmp_path)
    assert topic == ack_topic(result.device_id), log[-2000:]
    assert b'"msg_id":"tls-1"' in body.replace(b" ", b"") and b'"accepted":1' in body.replace(b" ", b""), body


def test_the_pairing_certificate_names_the_device_id_and_is_recorded_by_serial(pair_with_csr):
    # given a device paired with a CSR whose subject claims another name
    result, identity = pair_with_csr()
    # then the certificate's subject is the platform's device id, and its serial is on record
    issued = x509.load_pem_x509_certificate(Path(identity.cert_file).read_bytes())
    assert issued.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == result.device_id
    record = DeviceCertificate.objects.get(device__device_id=result.device_id)
    assert record.serial_number == format(issued.serial_number, "x") and record.revoked_at is None


def test_a_device_certificate_from_another_ca_is_refused(tls_broker, pair_with_csr, tmp_path, certs):
    # given a paired device id, and a certificate for that id from a CA the platform never trusted
    result, _ = pair_with_csr()
    forged = _foreign_identity(tmp_path, result.device_id)
    # when it connects with it
    session = TlsSession.with_identity(tls_broker.port, ClientTls(certs.ca, forged.cert_file, forged.key_file))
    # then the broker refuses the handshake: no CONNACK
    assert not session.accepted and session.error, session.error
    session.close()


def test_an_expired_device_certificate_is_refused(tls_broker, pair_with_csr, tmp_path, certs):
    # given a certificate from the platform's own CA that expired yesterday
    result, _ = pair_with_csr()
    expired = pki.client_certificate_issue(
        certs.authority(), result.device_id, days=1, not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    )
    identity = write_identity(tmp_path / "expired", result.device_id, expired.pem, expired.key_pem)
    # when the device connects with it
    session = TlsSession.with_identity(tls_broker.port, ClientTls(certs.ca, identity.cert_file, identity.key_file))
    # then it is refused
    assert not session.accepted and session.error, session.error
    session.close()


def test_an_unpaired_devices_certificate_is_refused_once_the_platform_rewrites_the_crl(
    tls_broker, pair_with_csr, django_capture_on_commit_callbacks
):
    # given a paired device that connects with its certificate
    result, identity = pair_with_csr()
    first = TlsSession.with_identity(tls_broker.port, identity)
    assert first.accepted, first.error
    first.close()

    # when a clinician unpairs it (the CRL is rewritten and the broker reloaded after commit)
    device = DeviceCertificate.objects.get(device__device_id=result.device_id).device
    clinician = UserFactory()
    device.patient.ward.staff.add(clinician)
    with django_capture_on_commit_callbacks(execute=True):
        device_unpair(device=device, user=clinician, reason="lost")
    time.sleep(0.5)

    # then its certificate is on the CRL and its next connection is refused
    assert DeviceCertificate.objects.get(device=device).revoked_at is not None
    again = TlsSession.with_identity(tls_broker.port, identity)
    assert not again.accepted and again.error, again.error
    again.close()


def test_a_device_without_a_certificate_is_refused_on_the_certificate_port_and_uses_the_password_port(
    tls_broker, certs
):
    # given the platform's service account, which also has a password
    account = broker_auth.platform_mqtt_account()
    context = tls_context(ClientTls(certs.ca))
    # when it connects with its password only, to each port
    on_certificate_port = TlsSession(tls_broker.port, context, username=account.username, password=account.password)
    on_password_port = TlsSession(
        tls_broker.password_port, context, username=account.username, password=account.password
    )
    # then mutual TLS refuses it, and the password listener (still TLS) accepts it
    assert not on_certificate_port.accepted
    assert on_password_port.accepted, on_password_port.error
    on_certificate_port.close()
    on_password_port.close()


# --- clients refusing a broker they should not trust ------------------------------------------------


def test_a_client_that_does_not_trust_the_brokers_ca_refuses_to_connect(tls_broker, certs, tmp_path):
    # given a client whose CA file holds another CA
    other = pki.authority_create("Another CA")
    other_ca = tmp_path / "other-ca.crt"
    other_ca.write_bytes(other.pem)
    untrusting = ClientTls(str(other_ca), certs.cert("vw-platform"), certs.key("vw-platform"))
    # when it connects, as a device would and as the platform's start-up check does
    session = TlsSession.with_identity(tls_broker.port, untrusting)
    refusal = r"is not trusted: self-signed certificate in certificate chain \(checked against MQTT_CA_FILE="
    with pytest.raises(BrokerTrustError, match=refusal):
        broker_check("localhost", tls_broker.port, untrusting)
    # then it never connects, and says why
    assert not session.accepted and "CERTIFICATE_VERIFY_FAILED" in session.error.upper().replace(" ", "_")


def test_a_broker_certificate_for_another_host_name_is_a_start_up_error(tls_broker, certs, settings):
    # given the broker's certificate replaced by one for another name, and the broker reloaded
    issued = pki.server_certificate_issue(certs.authority(), ["mqtt.elsewhere.example"])
    Path(certs.cert("server")).write_bytes(issued.pem)
    pki.write_private(Path(certs.key("server")), issued.key_pem)
    tls_broker.reload()
    # when the platform checks the broker at start-up
    # then it refuses, naming the host name it expected
    with pytest.raises(BrokerTrustError, match=r"not trusted: Hostname mismatch.*host name 'localhost'"):
        broker_check("localhost", tls_broker.port, certs.client("vw-platform"))


def test_ingest_refuses_to_start_against_a_broker_it_does_not_trust(tls_broker, certs, tmp_path):
    # given the ingest service configured with the wrong CA
    other = pki.authority_create("Another CA")
    (tmp_path / "wrong-ca.crt").write_bytes(other.pem)
    env = {**_ingest_env(tls_broker.port, certs), "MQTT_CA_FILE": str(tmp_path / "wrong-ca.crt")}
    # when it starts
    done = subprocess.run(
        [sys.executable, "manage.py", "ingest", "--no-share", "--client-id", "vw-tls-wrong-ca"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    # then it exits with a clear error and never falls back to plain MQTT
    assert done.returncode != 0
    assert "refusing to start" in done.stderr and "not trusted" in done.stderr, done.stderr[-2000:]


def test_plain_mqtt_to_the_tls_port_is_refused(tls_broker):
    # given a client that tries to downgrade to plain MQTT on the TLS port
    account = broker_auth.platform_mqtt_account()
    session = TlsSession(tls_broker.port, None, username=account.username, password=account.password)
    # then no CONNACK ever comes: the broker drops the connection
    assert not session.accepted and session.error, session.error
    session.close()


def test_the_broker_speaks_tls_1_3_and_allows_tls_1_2_at_least(tls_broker, certs):
    # given the platform's client identity
    identity = certs.client("vw-platform")
    # when it connects with its defaults, and with TLS 1.2 at most
    version = broker_check("localhost", tls_broker.port, identity)
    context = tls_context(identity)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    session = TlsSession(tls_broker.port, context, username="vw-platform")
    # then TLS 1.3 is chosen when both can, and a TLS 1.2 client is still served
    assert version == "TLSv1.3"
    assert session.accepted, session.error
    session.close()


# --- helpers ------------------------------------------------------------------------------------


def _reading_payload(msg_id: str) -> bytes:
    now = dt.datetime.now(dt.UTC).isoformat()
    return (
        f'{{"msg_id":"{msg_id}","observations":[{{"type":"heart_rate","value":80,"unit":"/min","measured_at":"{now}"}}]}}'
    ).encode()


def _ingest_env(port: int, certs: CertificateSet) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "VW_TEST_DB_NAME"}
    env.update(
        MQTT_URL=f"mqtts://localhost:{port}",
        MQTT_CA_FILE=certs.ca,
        MQTT_CERT_FILE=certs.cert("vw-platform"),
        MQTT_KEY_FILE=certs.key("vw-platform"),
        PYTHONUNBUFFERED="1",
    )
    return env


def _start_ingest(tmp_path: Path, port: int, certs: CertificateSet, database_url: str) -> subprocess.Popen:
    env = {**_ingest_env(port, certs), "DATABASE_URL": database_url}
    log = (tmp_path / "ingest.log").open("wb")
    client_id = f"vw-tls-ingest-{uuid.uuid4().hex[:6]}"
    command = [sys.executable, "manage.py", "ingest", "--no-share", "--client-id", client_id, "--batch-ms", "10"]
    process = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while "ingest ready" not in (tmp_path / "ingest.log").read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError((tmp_path / "ingest.log").read_text(errors="replace")[-3000:])
        time.sleep(0.1)
    return process


def _stop(process: subprocess.Popen, tmp_path: Path) -> str:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    return (tmp_path / "ingest.log").read_text(errors="replace")


def test_the_simulator_refuses_to_start_against_a_broker_it_does_not_trust(tls_broker, tmp_path, monkeypatch):
    # given the simulator's devices, told to trust another CA
    from devices.simulator import Simulator, build_devices
    from fixtures import demo_plan

    other = pki.authority_create("Another CA")
    (tmp_path / "wrong-ca.crt").write_bytes(other.pem)
    monkeypatch.setenv("MQTT_CA_FILE", str(tmp_path / "wrong-ca.crt"))
    devices = build_devices(demo_plan.demo_patients(), seed=1)[:1]
    simulator = Simulator(devices, f"mqtts://localhost:{tls_broker.password_port}", speed=60, credentials={})
    # when it starts, then it stops with the reason, before any device connects
    with pytest.raises(BrokerTrustError, match="not trusted"):
        simulator.run(threading.Event(), duration=1)
    assert all(link.client is None for link in simulator.links.values())
