"""Helpers for the TLS broker tests: a certificate set in a directory, and a client that reports.

:class:`TlsSession` never raises for a refusal: it records whether the broker sent a successful
CONNACK, and the error otherwise (the client's own verification failing, or the broker's TLS
alert arriving as a lost connection), so each test asserts on exactly what happened.
"""

from __future__ import annotations

import ssl
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import CertificateSigningRequestBuilder, Name, NameAttribute
from cryptography.x509.oid import NameOID

from devices import pki
from devices.mqtt_tls import ClientTls, tls_context

TIMEOUT = 5.0


@dataclass(frozen=True)
class CertificateSet:
    """What ``manage.py tls_certs`` wrote: the CA, the broker's and the platform's certificates."""

    directory: Path

    @property
    def ca(self) -> str:
        return str(self.directory / pki.CA_CERT_NAME)

    @property
    def ca_key(self) -> str:
        return str(self.directory / pki.CA_KEY_NAME)

    def cert(self, name: str) -> str:
        return str(self.directory / f"{name}.crt")

    def key(self, name: str) -> str:
        return str(self.directory / f"{name}.key")

    def authority(self) -> pki.Authority:
        return pki.authority_load(self.ca, self.ca_key)

    def client(self, name: str) -> ClientTls:
        return ClientTls(self.ca, self.cert(name), self.key(name))


def device_key_and_csr(subject: str = "ignored-by-the-platform") -> tuple[bytes, str]:
    """A device's own key (PEM) and the CSR it would send with its pairing request."""
    key = pki.new_key()
    csr = (
        CertificateSigningRequestBuilder()
        .subject_name(Name([NameAttribute(NameOID.COMMON_NAME, subject)]))
        .sign(key, hashes.SHA256())
    )
    return pki.key_pem(key), csr.public_bytes(serialization.Encoding.PEM).decode()


def write_identity(directory: Path, name: str, cert_pem: bytes, key_pem: bytes) -> ClientTls:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.crt").write_bytes(cert_pem)
    pki.write_private(directory / f"{name}.key", key_pem)
    return ClientTls("", str(directory / f"{name}.crt"), str(directory / f"{name}.key"))


class TlsSession:
    """One MQTT connection attempt over TLS; ``accepted`` only after a successful CONNACK."""

    def __init__(
        self,
        port: int,
        context: ssl.SSLContext | None,
        *,
        host: str = "localhost",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=f"tls-test-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv311
        )
        self.client.reconnect_delay_set(30, 60)  # one attempt per session
        if username is not None:
            self.client.username_pw_set(username, password)
        if context is not None:
            self.client.tls_set_context(context)
        self.reason: mqtt.ReasonCode | None = None
        self.error = ""
        self.done = threading.Event()
        self.messages: list[tuple[str, bytes]] = []
        self.received = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        try:
            self.client.connect(host, port, keepalive=30)
        except (ssl.SSLError, OSError) as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self.done.set()
            return
        self.client.loop_start()
        self.done.wait(TIMEOUT)

    @classmethod
    def with_identity(cls, port: int, tls: ClientTls, **kwargs: object) -> TlsSession:
        return cls(port, tls_context(tls), **kwargs)  # type: ignore[arg-type]

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self.reason = reason_code
        self.done.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self.error = self.error or f"disconnected: {reason_code}"
        self.done.set()

    def _on_message(self, client, userdata, message) -> None:  # type: ignore[no-untyped-def]
        with self.received:
            self.messages.append((message.topic, bytes(message.payload)))
            self.received.notify_all()

    @property
    def accepted(self) -> bool:
        return self.reason is not None and not self.reason.is_failure and self.client.is_connected()

    def subscribe(self, topic: str) -> None:
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.subscribe(topic, qos=1)
        assert subscribed.wait(TIMEOUT), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(TIMEOUT)

    def wait_message(self, timeout: float = 15.0) -> tuple[str, bytes]:
        with self.received:
            assert self.received.wait_for(lambda: self.messages, timeout), "nothing arrived"
            return self.messages[0]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
