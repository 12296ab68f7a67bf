"""Pairing a home device with a patient, and unpairing it: the services every route calls.

A clinician issues a short code; the patient (or the device's gateway) presents the code with
the device's serial. The device must already be registered in stock by its serial (the ward or
the supplier registers devices; a patient cannot invent one). Pairing gives the device a fresh
device id (its broker username) and, once, a secret; the broker's password and ACL files are
rewritten after commit so the device can connect at once. See docs/pairing.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

import segno
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.access import can_act_on_patient
from accounts.audit import audit_record
from devices import broker_auth, certificates, pki
from devices.credentials import claim_key_verify, secret_generate, secret_hash
from devices.models import Connectivity, Device, PairingCode, new_device_id
from devices.pairing_limits import source_failed, source_over_limit
from frontend.events import publish
from patients.models import Observation, Patient
from virtualward.env import mqtt_endpoint

logger = logging.getLogger(__name__)

# No 0/O, 1/I/L: the code is read aloud over the phone and typed by people with poor eyesight.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
STATUS_TOKEN_SALT = "vw.pairing.status"
STATUS_TOKEN_MAX_AGE_S = 24 * 3600


class PairingError(Exception):
    """A pairing attempt refused, with a reason for machines and a message for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _ward_phone(patient: Patient | None = None) -> str:
    return (patient.ward.phone if patient is not None and patient.ward.phone else "") or settings.VW_WARD_PHONE


def _refused(reason: str, patient: Patient | None = None) -> PairingError:
    phone = _ward_phone(patient)
    messages = {
        "not_recognised": "We do not recognise that code. Please check it and try again.",
        "expired": f"That code has expired. Please call the ward on {phone} for a new code.",
        "already_used": f"That code has already been used. Please call the ward on {phone} for a new code.",
        "replaced": "That code has been replaced by a newer one. Please use the newest code the ward gave you.",
        "patient_discharged": f"This code can no longer be used. Please call the ward on {phone}.",
        "serial_not_recognised": "We do not recognise that device number. "
        "Please check the number on the back of the device and try again.",
        "device_in_use": f"That device is already set up for someone else. Please call the ward on {phone}.",
        "too_many_attempts": f"Too many attempts. Please wait 10 minutes or call the ward on {phone}.",
        "nothing_to_collect": "This device has no set-up waiting. Ask the patient to enter their code again.",
        "device_not_recognised": "We do not recognise that device number and factory key.",
        "already_collected": f"This device has already collected its set-up. Please call the ward on {phone}.",
        "certificate_request_invalid": "The device's certificate request cannot be used. Please call the ward.",
        "certificates_unavailable": "This service cannot issue device certificates. Pair without one.",
        "kit_full": f"That is all the devices one code can set up. Please call the ward on {phone} for another code.",
        "kit_closed": f"This set-up has ended. Please call the ward on {phone} for a new code.",
        "already_in_kit": "That device is already set up. Please enter the number of your next device.",
    }
    return PairingError(reason, messages[reason])


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: dt.datetime
    qr_svg: str


@dataclass(frozen=True)
class PairingResult:
    device_id: str
    secret: str | None
    mqtt: dict[str, Any]
    topics: dict[str, str]
    config: dict[str, Any]
    device_pk: int = 0
    status_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_api(self) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "secret": self.secret,
            "mqtt": self.mqtt,
            "topics": self.topics,
            "config": self.config,
            **self.extra,  # a device certificate and its CA, when the device sent a CSR
        }


# --- Codes ----------------------------------------------------------------------------------


def code_normalise(raw: str) -> str:
    return "".join(ch for ch in (raw or "").upper() if ch.isalnum())


def code_display(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def code_hash(raw: str) -> str:
    # Keyed, so a copy of the database alone does not let anyone test candidate codes offline.
    message = ("pairing:" + code_normalise(raw)).encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def qr_svg(text: str) -> str:
    return segno.make(text, error="m").svg_inline(scale=6, border=2, dark="#000", light="#fff")


def pairing_code_issue(*, patient: Patient, user: Any, link_base: str = "") -> IssuedCode:
    """Issue a code for ``patient``, cancelling any unused earlier ones (a reissue)."""
    if not can_act_on_patient(user, patient.pk):
        raise PermissionDenied("You cannot pair devices for this patient.")
    if not patient.is_active:
        raise _refused("patient_discharged", patient)
    now = timezone.now()
    expires_at = now + dt.timedelta(minutes=settings.VW_PAIRING_CODE_MINUTES)
    with transaction.atomic():
        PairingCode.objects.filter(patient=patient, used_at__isnull=True, cancelled_at__isnull=True).update(
            cancelled_at=now
        )
        code, row = _code_create(patient=patient, user=user, now=now, expires_at=expires_at)
        audit_record(actor=user, action="pairing.code_issued", patient=patient, obj=row)
    shown = code_display(code)
    return IssuedCode(shown, expires_at, qr_svg(f"{link_base}?code={shown}" if link_base else shown))


def _code_create(*, patient: Patient, user: Any, now: dt.datetime, expires_at: dt.datetime) -> tuple[str, PairingCode]:
    for _ in range(5):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        try:
            with transaction.atomic():
                row = PairingCode.objects.create(
                    patient=patient, code_hash=code_hash(code), issued_by=user, issued_at=now, expires_at=expires_at
                )
            return code, row
        except IntegrityError:  # the same code is live for someone else: draw again
            continue
    raise RuntimeError("could not draw a unique pairing code")


def pairing_code_check(*, code: str, client_ip: str | None = None) -> PairingCode:
    """The live code, without using it up (the page's first step). Failures count as guesses."""
    _guard(client_ip)
    try:
        return _code_usable(
            PairingCode.objects.select_related("patient__ward").filter(code_hash=code_hash(code)).first()
        )
    except PairingError:
        source_failed(client_ip)
        raise


def _code_usable(row: PairingCode | None) -> PairingCode:
    if row is None:
        raise _refused("not_recognised")
    if row.used_at is not None:
        raise _refused("already_used", row.patient)
    if row.cancelled_at is not None:
        raise _refused("replaced", row.patient)
    if row.expires_at <= timezone.now():
        raise _refused("expired", row.patient)
    if not row.patient.is_active:
        raise _refused("patient_discharged", row.patient)
    return row


def _guard(client_ip: str | None) -> None:
    if source_over_limit(client_ip):
        raise _refused("too_many_attempts")


# --- Pairing --------------------------------------------------------------------------------


def pairing_complete(
    *,
    code: str,
    serial: str,
    client_ip: str | None = None,
    issue_credentials: bool = True,
    via: str = "api",
    csr: str = "",
) -> PairingResult:
    """Pair the device with serial ``serial`` to the patient the code was issued for.

    With ``issue_credentials`` (a gateway calling the API) the result carries the secret. The
    patient page passes False: the device then collects its own secret once, with its serial and
    factory key, through :func:`device_credentials_collect`, so no secret is ever shown on a phone.
    A ``csr`` (PEM) gets the device a client certificate for its own key as well (mutual TLS,
    docs/security.md).
    """
    _guard(client_ip)
    csr_pem = _csr_checked(csr)
    try:
        with transaction.atomic():
            row = _code_usable(
                PairingCode.objects.select_for_update(of=("self",))
                .select_related("patient__ward")
                .filter(code_hash=code_hash(code))
                .first()
            )
            device = _device_for_pairing(serial, row.patient)
            secret = _pair(device, row, via=via, issue_credentials=issue_credentials)
            certificate = certificates.device_certificate_issue(device, csr_pem=csr_pem) if csr_pem else None
    except PairingError:
        source_failed(client_ip)
        raise
    return _result(device, secret, certificate)


def _csr_checked(csr: str) -> bytes | None:
    # Checked before the code is used up: a device's bad request is not a guess at a code.
    if not csr:
        return None
    if not certificates.certificates_enabled():
        raise _refused("certificates_unavailable")
    try:
        pki.csr_public_key(csr.encode())
    except pki.CertificateRequestError as exc:
        refusal = _refused("certificate_request_invalid")
        raise PairingError(refusal.reason, f"{refusal.message} ({exc})") from exc
    return csr.encode()


def _device_for_pairing(serial: str, patient: Patient) -> Device:
    device = Device.objects.select_for_update(of=("self",)).filter(serial__iexact=(serial or "").strip()).first()
    if device is None:
        raise _refused("serial_not_recognised", patient)
    holder = device.patient
    in_use = holder is not None and device.revoked_at is None and holder.is_active
    if in_use and holder.pk != patient.pk:
        raise _refused("device_in_use", patient)
    return device


def _pair(device: Device, row: PairingCode, *, via: str, issue_credentials: bool) -> str | None:
    now = timezone.now()
    # The conditional update is the single-use guarantee even where SELECT FOR UPDATE is a
    # no-op (SQLite): of two racing requests exactly one changes the row.
    if not PairingCode.objects.filter(pk=row.pk, used_at__isnull=True, cancelled_at__isnull=True).update(
        used_at=now, device=device
    ):
        raise _refused("already_used", row.patient)
    return device_pair(device, row, via=via, issue_credentials=issue_credentials, now=now)


def device_pair(
    device: Device, row: PairingCode, *, via: str, issue_credentials: bool, now: dt.datetime
) -> str | None:
    """Pair ``device`` with the patient of ``row``, whose use the caller has already claimed
    (the code's first device, or a later device of the same kit: devices.kit_pairing)."""
    previous_id = device.device_id if device.revoked_at is None and device.secret_hash else None
    # A fresh id every pairing: the broker username of any earlier pairing stops existing, and
    # message ids the device used for someone else can never collide with this patient's.
    device.device_id = new_device_id()
    device.patient = row.patient
    device.paired_at, device.revoked_at = now, None
    device.secret_hash, device.credentials_issued_at = "", None
    device.connectivity, device.last_seen_at, device.last_reading_at = Connectivity.UNKNOWN, None, None
    device.offline_since = device.overdue_at = device.battery = device.battery_at = None
    device.save()
    certificates.device_certificates_revoke(device, at=now)  # no certificate outlives its pairing
    if issue_credentials:
        secret = device_credentials_issue(device)
    else:
        secret = None
        transaction.on_commit(broker_auth.broker_refresh)  # an earlier pairing's username goes
    audit_record(
        actor=None,
        action="device.paired",
        patient=row.patient,
        obj=device,
        detail={"via": via, "code_issued_by": row.issued_by_id, "replaced_device_id": previous_id},
    )
    publish(
        "device.paired",
        ward_id=row.patient.ward_id,
        patient_id=row.patient.pk,
        data={"device": device.pk, "serial": device.serial, "kind": device.kind},
    )
    _after_commit_config(device)
    return secret


def device_credentials_issue(device: Device) -> str:
    """Give ``device`` a new secret (returned once, only its hash kept); the broker learns it on commit."""
    secret = secret_generate()
    device.secret_hash = secret_hash(secret)
    device.credentials_issued_at = timezone.now()
    device.save(update_fields=["secret_hash", "credentials_issued_at"])
    transaction.on_commit(broker_auth.broker_refresh)
    return secret


def device_credentials_collect(
    *, serial: str, claim_key: str, client_ip: str | None = None, csr: str = ""
) -> PairingResult:
    """A device paired from the patient page collects its secret with its factory key.

    The serial is printed on the box, so it proves nothing: the factory key the device holds
    does (docs/pairing.md). Once only, within the code's lifetime after pairing. A second
    collection is refused and recorded, and the first secret stays the only one: a device that
    lost it is paired again, which gives it a new id and secret. A ``csr`` (PEM) gets the device
    a client certificate for its own key as well, as at gateway pairing (mutual TLS); a bad one
    is refused before anything is collected, so the device can send a good one.
    """
    _guard(client_ip)
    csr_pem = _csr_checked(csr)
    certificate = None
    with transaction.atomic():
        device = Device.objects.select_for_update(of=("self",)).filter(serial__iexact=(serial or "").strip()).first()
        if not claim_key_verify(claim_key, device.claim_key_hash if device is not None else ""):
            source_failed(client_ip)
            raise _refused("device_not_recognised")
        assert device is not None  # a key never verifies against no device
        again = device.credentials_issued_at is not None and _collectable(device, issued=True)
        if not again:
            if not _collectable(device, issued=False):
                raise _refused("nothing_to_collect", device.patient)
            secret = device_credentials_issue(device)
            certificate = certificates.device_certificate_issue(device, csr_pem=csr_pem) if csr_pem else None
            audit_record(actor=None, action="device.credentials_collected", patient=device.patient, obj=device)
    if again:
        # Recorded outside the refused transaction, so the attempt stays in the trail.
        audit_record(actor=None, action="device.credentials_collect_refused", patient=device.patient, obj=device)
        logger.warning("device %s asked for its credentials a second time: refused", device.device_id)
        raise _refused("already_collected", device.patient)
    return _result(device, secret, certificate)


def _collectable(device: Device, *, issued: bool) -> bool:
    window = timezone.now() - dt.timedelta(minutes=settings.VW_PAIRING_CODE_MINUTES)
    return (
        device.patient_id is not None
        and device.revoked_at is None
        and device.paired_at is not None
        and device.paired_at >= window
        and (device.credentials_issued_at is not None) == issued
    )


def _result(device: Device, secret: str | None, certificate: pki.Issued | None = None) -> PairingResult:
    host, port, tls = mqtt_endpoint(settings.MQTT_PUBLIC_URL)
    port = certificates.device_port(port, certified=certificate is not None)
    return PairingResult(
        device_id=device.device_id,
        secret=secret,
        mqtt={"host": host, "port": port, "tls": tls},
        topics={name: device_topic(device.device_id, name) for name in ("obs", "status", "ack", "config")},
        config=device_config(device),
        device_pk=device.pk,
        status_token=status_token(device),
        extra=certificates.pairing_certificate_fields(certificate),
    )


def device_topic(device_id: str, name: str) -> str:
    return f"vw/v1/devices/{device_id}/{name}"


def device_config(device: Device) -> dict[str, Any]:
    return {"report_interval_s": device.expected_interval_s, "mode": device.mode}


def _after_commit_config(device: Device) -> None:
    topic, config = device_topic(device.device_id, "config"), device_config(device)
    transaction.on_commit(lambda: broker_auth.config_publish(topic, config))


# --- Unpairing ------------------------------------------------------------------------------


def device_unpair(*, device: Device, user: Any, reason: str, route: str = "", refresh_broker: bool = True) -> Device:
    """Revoke ``device`` at once (discharge, lost device): the broker refuses its next connection.

    ``refresh_broker=False`` is for a caller unpairing several devices in one transaction, which
    then queues ``broker_auth.broker_refresh`` once itself (a refresh rewrites every file).
    """
    now = timezone.now()
    with transaction.atomic():
        # Decide on the locked, current row: the caller's instance may be stale.
        locked = Device.objects.select_for_update(of=("self",)).select_related("patient").get(pk=device.pk)
        if locked.patient_id is None or not can_act_on_patient(user, locked.patient_id):
            raise PermissionDenied("You cannot unpair this device.")
        if locked.revoked_at is None:
            Device.objects.filter(pk=locked.pk).update(revoked_at=now, secret_hash="", overdue_at=None)
            certificates.device_certificates_revoke(locked, at=now)  # onto the CRL at broker_refresh
            audit_record(
                actor=user,
                action="device.unpaired",
                patient=locked.patient,
                obj=locked,
                route=route,
                detail={"reason": reason, "device_id": locked.device_id},
            )
            publish(
                "device.unpaired",
                ward_id=locked.patient.ward_id,
                patient_id=locked.patient_id,
                data={"device": locked.pk, "serial": locked.serial, "reason": reason},
            )
            topic = device_topic(locked.device_id, "config")
            if refresh_broker:
                transaction.on_commit(broker_auth.broker_refresh)
            # Clear the retained config, so nothing is left on the broker for a dead username.
            transaction.on_commit(lambda: broker_auth.config_publish(topic, None))
    device.refresh_from_db()
    return device


# --- The patient's waiting page -------------------------------------------------------------


@dataclass(frozen=True)
class PairingStatus:
    state: str  # "setting_up" (secret not collected yet), "waiting", "received", "revoked"
    show_help: bool
    ward_phone: str


def status_token(device: Device) -> str:
    paired = device.paired_at.isoformat() if device.paired_at else ""
    return signing.dumps({"d": device.pk, "p": paired}, salt=STATUS_TOKEN_SALT, compress=True)


def device_from_status_token(token: str) -> Device | None:
    """The device a waiting page follows; None for a bad, stale or superseded token."""
    try:
        data = signing.loads(token, salt=STATUS_TOKEN_SALT, max_age=STATUS_TOKEN_MAX_AGE_S)
    except signing.BadSignature:
        return None
    device = Device.objects.select_related("patient__ward").filter(pk=data.get("d")).first()
    if device is None or device.paired_at is None or device.paired_at.isoformat() != data.get("p"):
        return None
    return device


def pairing_status(device: Device) -> PairingStatus:
    phone = _ward_phone(device.patient)
    if device.revoked_at is not None:
        return PairingStatus("revoked", True, phone)
    received = Observation.objects.filter(
        device=device, patient_id=device.patient_id, received_at__gte=device.paired_at
    ).exists()
    if received:
        return PairingStatus("received", False, phone)
    state = "waiting" if device.credentials_issued_at else "setting_up"
    waited = (timezone.now() - device.paired_at).total_seconds()
    return PairingStatus(state, waited >= settings.VW_PAIRING_HELP_AFTER_S, phone)
