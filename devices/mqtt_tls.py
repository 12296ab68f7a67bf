"""TLS for the platform's own MQTT clients (ingest, config publisher, simulator, bench fleet).

With an ``mqtts://`` URL a client verifies the broker's certificate chain against
``MQTT_CA_FILE`` (the system's CAs when unset) and its host name, and presents
``MQTT_CERT_FILE``/``MQTT_KEY_FILE`` when the broker requires mutual TLS. :func:`broker_check`
makes one handshake at start-up so that a wrong CA, a wrong host name, a refused client
certificate or a plain-text port is a clear error naming the setting to fix; nothing ever falls
back to plain MQTT.
"""

from __future__ import annotations

import os
import socket
import ssl
from dataclasses import dataclass

import paho.mqtt.client as mqtt

# With TLS 1.3 the broker judges our certificate after our side of the handshake is done: a
# refusal arrives as an alert on the first read, within this long.
CERTIFICATE_VERDICT_S = 0.5


class BrokerTrustError(RuntimeError):
    """The broker cannot be reached securely: a configuration error, not a network blip."""


@dataclass(frozen=True)
class ClientTls:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""

    @classmethod
    def from_environ(cls) -> ClientTls:
        """From MQTT_CA_FILE, MQTT_CERT_FILE and MQTT_KEY_FILE (also outside Django: the fleet)."""
        env = os.environ
        return cls(env.get("MQTT_CA_FILE", ""), env.get("MQTT_CERT_FILE", ""), env.get("MQTT_KEY_FILE", ""))

    @classmethod
    def from_settings(cls) -> ClientTls:
        from django.conf import settings

        return cls(settings.MQTT_CA_FILE, settings.MQTT_CERT_FILE, settings.MQTT_KEY_FILE)

    def describe_trust(self) -> str:
        return f"MQTT_CA_FILE={self.ca_file}" if self.ca_file else "the system's CAs (MQTT_CA_FILE unset)"


def tls_context(tls: ClientTls) -> ssl.SSLContext:
    """Verify the chain and the host name, TLS 1.2 at least; our certificate when configured."""
    try:
        context = ssl.create_default_context(cafile=tls.ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise BrokerTrustError(f"MQTT_CA_FILE={tls.ca_file!r} cannot be loaded: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if tls.cert_file or tls.key_file:
        try:
            context.load_cert_chain(tls.cert_file, tls.key_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise BrokerTrustError(
                f"MQTT_CERT_FILE={tls.cert_file!r} / MQTT_KEY_FILE={tls.key_file!r} cannot be loaded: {exc}"
            ) from exc
    return context


def client_tls_configure(client: mqtt.Client, tls: ClientTls, context: ssl.SSLContext | None = None) -> None:
    client.tls_set_context(context or tls_context(tls))


def broker_check(host: str, port: int, tls: ClientTls, *, timeout_s: float = 10.0) -> str:
    """One TLS handshake with the broker; returns the protocol version agreed (e.g. "TLSv1.3").

    Raises :class:`BrokerTrustError` for anything a retry cannot fix, and ``ConnectionError``
    when the broker is simply not reachable (yet).
    """
    context = tls_context(tls)
    try:
        with (
            socket.create_connection((host, port), timeout=timeout_s) as raw,
            context.wrap_socket(raw, server_hostname=host) as sock,
        ):
            version = sock.version() or "TLS"
            if tls.cert_file:
                _await_certificate_verdict(sock)
            return version
    except ssl.SSLCertVerificationError as exc:
        raise BrokerTrustError(
            f"the MQTT broker at {host}:{port} is not trusted: {exc.verify_message} "
            f"(checked against {tls.describe_trust()} for host name {host!r})"
        ) from exc
    except ssl.SSLError as exc:
        raise BrokerTrustError(
            f"TLS with the MQTT broker at {host}:{port} failed ({exc.reason or exc}): is it a TLS listener, "
            "and does it accept our client certificate (MQTT_CERT_FILE)?"
        ) from exc
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise BrokerTrustError(f"the MQTT broker at {host}:{port} closed the TLS connection: {exc}") from exc
    except OSError as exc:
        raise ConnectionError(f"MQTT broker at {host}:{port} unreachable: {exc}") from exc


def _await_certificate_verdict(sock: ssl.SSLSocket) -> None:
    sock.settimeout(CERTIFICATE_VERDICT_S)
    try:
        if sock.recv(1) == b"":
            raise BrokerTrustError("the MQTT broker closed the connection after the handshake: certificate refused?")
    except TimeoutError:
        return  # no alert: the broker waits for our CONNECT, so it accepted the certificate


def broker_verify(url: str, tls: ClientTls | None = None) -> str | None:
    """:func:`broker_check` for an ``mqtts://`` URL (settings from the environment); None for plain."""
    from virtualward.env import mqtt_endpoint

    host, port, secure = mqtt_endpoint(url)
    if not secure:
        return None
    return broker_check(host, port, tls or ClientTls.from_environ())
