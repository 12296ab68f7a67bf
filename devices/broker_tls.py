"""The TLS lines of the broker's generated mosquitto.conf (devices/broker_auth.py writes the rest).

Three shapes, from settings (docs/security.md):

* TLS with passwords: ``VW_MQTT_TLS_CERTFILE``/``KEYFILE`` set. Devices verify the broker;
  the broker checks each device's password.
* Mutual TLS: ``VW_MQTT_REQUIRE_CERTIFICATE=true`` as well. Every client presents a certificate
  from the platform's CA (``VW_TLS_CA_CERT_FILE``), checked against the CRL; its common name is
  the MQTT username, so the ACLs apply unchanged. ``VW_MQTT_PASSWORD_PORT`` adds a second TLS
  listener with passwords for devices that cannot hold a key.
* Plain MQTT, for development: only on a loopback address. ``VW_MQTT_LOOPBACK_PORT`` adds a
  plain loopback listener beside a TLS one, for platform processes on the broker's own host.

The minimum protocol is ``VW_MQTT_TLS_VERSION`` (tlsv1.2 by default; TLS 1.3 is negotiated with
every client that has it); TLS 1.2 is limited to forward-secret AEAD suites.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from devices import certificates

TLS_VERSIONS = ("tlsv1.2", "tlsv1.3")
# TLS 1.2 suites with forward secrecy and authenticated encryption only (NCSC TLS guidance).
TLS12_CIPHERS = (
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
)


def tls_configured() -> bool:
    return bool(settings.VW_MQTT_TLS_CERTFILE and settings.VW_MQTT_TLS_KEYFILE)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def crl_path(target: Path) -> Path:
    return target / certificates.CRL_NAME


def listener_tls_lines(target: Path, host: str) -> list[str]:
    """What follows the main ``listener`` line: its TLS options, then any further listeners."""
    if not tls_configured():
        if not is_loopback(host):
            raise ImproperlyConfigured(
                f"plain MQTT on {host} would carry vital signs in clear text: set VW_MQTT_TLS_CERTFILE and "
                "VW_MQTT_TLS_KEYFILE (manage.py tls_certs), or listen on 127.0.0.1 for development"
            )
        return []
    require = settings.VW_MQTT_REQUIRE_CERTIFICATE
    lines = _tls_options(target, require_certificate=require)
    if require and settings.VW_MQTT_PASSWORD_PORT:
        lines += [f"listener {settings.VW_MQTT_PASSWORD_PORT} {host}", *_tls_options(target, require_certificate=False)]
    if settings.VW_MQTT_LOOPBACK_PORT:
        lines.append(f"listener {settings.VW_MQTT_LOOPBACK_PORT} 127.0.0.1")
    return lines


def _tls_options(target: Path, *, require_certificate: bool) -> list[str]:
    version = settings.VW_MQTT_TLS_VERSION
    if version not in TLS_VERSIONS:
        raise ImproperlyConfigured(f"VW_MQTT_TLS_VERSION={version!r} must be one of {', '.join(TLS_VERSIONS)}")
    lines = [
        f"certfile {settings.VW_MQTT_TLS_CERTFILE}",
        f"keyfile {settings.VW_MQTT_TLS_KEYFILE}",
        f"tls_version {version}",
        f"ciphers {TLS12_CIPHERS}",
    ]
    if not require_certificate:
        return lines
    if not settings.VW_TLS_CA_CERT_FILE:
        raise ImproperlyConfigured("VW_MQTT_REQUIRE_CERTIFICATE=true needs VW_TLS_CA_CERT_FILE, the CA of the clients")
    lines += [f"cafile {settings.VW_TLS_CA_CERT_FILE}", "require_certificate true", "use_identity_as_username true"]
    crl = crl_path(target)
    certificates.crl_refresh(crl)
    if crl.exists():
        lines.append(f"crlfile {crl}")
    else:
        # Without the CA key here no CRL can be signed: revocation then rests on the password
        # file alone, which mutual TLS does not consult. Loud, because unpairing would not bite.
        raise ImproperlyConfigured(
            f"mutual TLS needs a CRL at {crl}: set VW_TLS_CA_KEY_FILE so the platform can sign it"
        )
    return lines


def broker_crl_refresh(target: Path) -> bool:
    """Re-sign or rewrite the CRL of a broker run from ``target``; True when it changed."""
    if not (tls_configured() and settings.VW_MQTT_REQUIRE_CERTIFICATE):
        return False
    return certificates.crl_refresh(crl_path(target))


def device_listener_options(target: Path) -> list[str]:
    """TLS options of the devices' own listener: the same certificate rules as the main one."""
    if not tls_configured():
        return []
    return _tls_options(target, require_certificate=settings.VW_MQTT_REQUIRE_CERTIFICATE)
