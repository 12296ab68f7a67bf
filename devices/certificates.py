"""Device client certificates: issued at pairing from the device's own key, revoked at unpairing.

A device that can hold a key sends a certificate signing request (CSR) with its pairing
request; the platform's CA certifies that key for the device's new id (the request's own subject
is ignored), so the key never leaves the device. Unpairing, or pairing the same device again,
revokes its earlier certificates: the CRL the broker checks is rewritten after commit
(:func:`crl_refresh`, called by ``broker_auth.broker_refresh``) and the broker reloaded.
Devices that cannot hold a key keep their password (docs/security.md: the weaker option).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from cryptography import x509
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from devices import pki
from devices.models import Device, DeviceCertificate

logger = logging.getLogger(__name__)

CRL_NAME = "crl.pem"
# A CRL is re-signed when it is this old even if nothing was revoked: the broker refuses every
# client certificate once the CRL it holds is past its next-update time (pki.CRL_DAYS).
CRL_RESIGN_AFTER = dt.timedelta(days=1)


class CertificatesUnavailable(RuntimeError):
    """No CA key here: this process cannot sign (set VW_TLS_CA_CERT_FILE and VW_TLS_CA_KEY_FILE)."""


def certificates_enabled() -> bool:
    return bool(settings.VW_TLS_CA_CERT_FILE and settings.VW_TLS_CA_KEY_FILE)


def authority() -> pki.Authority:
    if not certificates_enabled():
        raise CertificatesUnavailable("VW_TLS_CA_CERT_FILE and VW_TLS_CA_KEY_FILE are not set")
    return pki.authority_load(settings.VW_TLS_CA_CERT_FILE, settings.VW_TLS_CA_KEY_FILE)


def device_certificate_issue(device: Device, *, csr_pem: bytes | None, ca: pki.Authority | None = None) -> pki.Issued:
    """Certify the key in ``csr_pem`` for ``device``'s current id; earlier certificates are revoked.

    Call inside the pairing transaction: the broker learns of the revocations when the caller's
    ``broker_refresh`` runs on commit. ``csr_pem=None`` makes the key here, for development
    devices only (``manage.py tls_certs --device``): a real device keeps its key to itself.
    """
    issued = pki.client_certificate_issue(
        ca or authority(), device.device_id, csr_pem=csr_pem, days=settings.VW_TLS_DEVICE_CERT_DAYS
    )
    now = timezone.now()
    device_certificates_revoke(device, at=now)
    DeviceCertificate.objects.create(
        device=device,
        common_name=device.device_id,
        serial_number=issued.serial_hex,
        fingerprint_sha256=issued.fingerprint,
        issued_at=now,
        not_after=issued.certificate.not_valid_after_utc,
    )
    return issued


def device_certificates_revoke(device: Device, *, at: dt.datetime) -> int:
    """Revoke every live certificate of ``device`` (unpairing, re-pairing). Returns how many."""
    return DeviceCertificate.objects.filter(device=device, revoked_at__isnull=True).update(revoked_at=at)


def pairing_certificate_fields(issued: pki.Issued | None) -> dict[str, Any]:
    """What a device receives with its pairing: its certificate and the CA to verify the broker by."""
    if issued is None:
        return {}
    return {"certificate": issued.pem.decode(), "ca_certificate": authority().pem.decode()}


def device_port(public_port: int, *, certified: bool) -> int:
    """The broker port a newly paired device is told: the password listener when it has no certificate."""
    if settings.VW_MQTT_REQUIRE_CERTIFICATE and not certified and settings.VW_MQTT_PASSWORD_PORT:
        return settings.VW_MQTT_PASSWORD_PORT
    return public_port


# --- The certificate revocation list ----------------------------------------------------------


def revoked_serials(now: dt.datetime | None = None) -> list[tuple[int, dt.datetime]]:
    """(serial, revoked at) of every unexpired certificate that no longer speaks for a patient.

    Revoked ones, and those of a device unpaired or revoked by any route or whose patient was
    discharged: with mutual TLS the password file, which leaves such devices out, is not asked.
    """
    now = now or timezone.now()
    revoked = (
        Q(revoked_at__isnull=False)
        | Q(device__revoked_at__isnull=False)
        | Q(device__patient__isnull=True)
        | Q(device__patient__discharged_at__isnull=False)
    )
    rows = DeviceCertificate.objects.filter(revoked, not_after__gt=now).values_list(
        "serial_number", "revoked_at", "device__revoked_at", "device__patient__discharged_at"
    )
    return [(int(serial, 16), at or device_at or discharged_at or now) for serial, at, device_at, discharged_at in rows]


def crl_refresh(path: Path, ca: pki.Authority | None = None) -> bool:
    """Rewrite the CRL at ``path`` when its revoked set changed or it is due for re-signing.

    Returns True when the file changed (the broker must then be reloaded). Without a CA key
    here nothing is written: the process holding the key keeps the file current.
    """
    if ca is None and not certificates_enabled():
        return False
    revoked = revoked_serials()
    current = _crl_load(path)
    unchanged = current is not None and _crl_lists(current) == {serial for serial, _ in revoked}
    if unchanged and timezone.now() - current.last_update_utc < CRL_RESIGN_AFTER:  # type: ignore[union-attr]
        return False
    _atomic_write_bytes(path, pki.crl_pem(pki.crl_build(ca or authority(), revoked)))
    logger.info("CRL written to %s: %d revoked certificates", path, len(revoked))
    return True


def _crl_load(path: Path) -> x509.CertificateRevocationList | None:
    try:
        return x509.load_pem_x509_crl(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return None


def _crl_lists(crl: x509.CertificateRevocationList) -> set[int]:
    return {entry.serial_number for entry in crl}


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # a CRL is public; the broker's user must read it
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
