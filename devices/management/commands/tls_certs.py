"""Make the private CA and the certificates for TLS on the wire (development, tests, small sites).

    manage.py tls_certs --dir var/tls                             # CA, broker, platform client
    manage.py tls_certs --dir deploy/mosquitto/certs --host mqtt.example.nhs.uk
    manage.py tls_certs --dir var/tls --device dev-0123456789ab   # a development device's key
    manage.py tls_certs --dir var/tls --crl var/mosquitto/crl.pem # sign the CRL now

An existing CA in ``--dir`` is kept (every issued certificate depends on it); the broker's and
the platform's certificates are made when missing or with ``--renew``. The broker's certificate
names localhost, 127.0.0.1, ::1, the host of MQTT_PUBLIC_URL and every ``--host``. Device
certificates are normally issued at pairing from the device's own key (docs/security.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from devices import certificates, pki
from devices.broker_auth import PLATFORM_USERNAME
from devices.models import Device
from virtualward.env import mqtt_endpoint

DEFAULT_HOSTS = ["localhost", "127.0.0.1", "::1"]


class Command(BaseCommand):
    help = "Make the private CA, the broker's server certificate and the platform's client certificates."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", type=Path, default=Path(settings.VAR_DIR) / "tls", help="Where to write.")
        parser.add_argument("--host", action="append", default=[], help="A name the broker is reached by.")
        parser.add_argument(
            "--client", action="append", default=[], help=f"Client certificate (default {PLATFORM_USERNAME})."
        )
        parser.add_argument("--device", action="append", default=[], help="A paired development device's id.")
        parser.add_argument("--crl", type=Path, help="Write the CRL of revoked device certificates here.")
        parser.add_argument("--renew", action="store_true", help="Re-issue the broker and client certificates.")

    def handle(self, *args: Any, **options: Any) -> None:
        directory: Path = options["dir"]
        authority = self._authority(directory)
        self._server(authority, directory, options["host"], renew=options["renew"])
        for name in options["client"] or [PLATFORM_USERNAME]:
            if options["renew"] or not (directory / f"{name}.crt").exists():
                pki.issued_save(pki.client_certificate_issue(authority, name), directory, name)
                self.stdout.write(f"client certificate {directory / name}.crt (CN={name})")
        for device_id in options["device"]:
            self._device(device_id, directory, authority)
        if options["crl"]:
            certificates.crl_refresh(options["crl"], ca=authority)
            self.stdout.write(f"CRL {options['crl']}")
        self._explain(directory)

    def _authority(self, directory: Path) -> pki.Authority:
        cert, key = directory / pki.CA_CERT_NAME, directory / pki.CA_KEY_NAME
        if cert.exists() and key.exists():
            self.stdout.write(f"keeping the CA in {directory}")
            return pki.authority_load(cert, key)
        if cert.exists() or key.exists():
            raise CommandError(f"{directory} holds only half a CA ({cert.name} / {key.name}): refusing to replace it")
        authority = pki.authority_create()
        pki.authority_save(authority, directory)
        self.stdout.write(f"new CA {cert} (key {key}, readable by its owner only)")
        return authority

    def _server(self, authority: pki.Authority, directory: Path, hosts: list[str], *, renew: bool) -> None:
        if (directory / "server.crt").exists() and not renew:
            return
        public_host = mqtt_endpoint(settings.MQTT_PUBLIC_URL)[0]
        names = [*hosts, *DEFAULT_HOSTS, public_host]
        pki.issued_save(pki.server_certificate_issue(authority, names), directory, "server")
        self.stdout.write(f"broker certificate {directory / 'server.crt'} for {', '.join(dict.fromkeys(names))}")

    def _device(self, device_id: str, directory: Path, authority: pki.Authority) -> None:
        device = Device.objects.filter(device_id=device_id).first()
        if device is None:
            raise CommandError(f"no device {device_id!r}: pair it first")
        with transaction.atomic():
            issued = certificates.device_certificate_issue(device, csr_pem=None, ca=authority)
        pki.issued_save(issued, directory, device_id)
        self.stdout.write(f"device certificate {directory / device_id}.crt (development only: the key was made here)")

    def _explain(self, directory: Path) -> None:
        d = directory.resolve()
        self.stdout.write(
            "\nSettings for mutual TLS with these files (docs/security.md):\n"
            f"  VW_TLS_CA_CERT_FILE={d}/ca.crt VW_TLS_CA_KEY_FILE={d}/ca.key\n"
            f"  VW_MQTT_TLS_CERTFILE={d}/server.crt VW_MQTT_TLS_KEYFILE={d}/server.key\n"
            "  VW_MQTT_REQUIRE_CERTIFICATE=true\n"
            f"  MQTT_URL=mqtts://localhost:8883 MQTT_CA_FILE={d}/ca.crt "
            f"MQTT_CERT_FILE={d}/{PLATFORM_USERNAME}.crt MQTT_KEY_FILE={d}/{PLATFORM_USERNAME}.key"
        )
