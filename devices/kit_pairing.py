"""One pairing code pairs the patient's whole kit (a patch, a cuff, a thermometer, scales).

The code itself stays single-use, exactly as the gateway API and docs/pairing.md promise: the
first device pairing with it uses it up. Doing so opens a **kit**: for the code's remaining
lifetime, and up to ``VW_PAIRING_KIT_MAX`` devices in all, the same phone may pair the patient's
other devices without a new code. The phone holds the kit's signed token in its (server-side)
session, never in a URL; the kit is bounded by the database, not by what the phone says.

A kit's devices are those of the patient paired between the code's use and its expiry, so the
waiting page can name each device of the kit and confirm each one's first reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from devices.models import Device, PairingCode
from devices.pairing import (
    PairingError,
    PairingResult,
    _device_for_pairing,
    _guard,
    _refused,
    _result,
    device_pair,
    pairing_status,
)
from devices.pairing_limits import source_failed

KIT_TOKEN_SALT = "vw.pairing.kit"
KIT_STATE_TITLES = {
    "setting_up": "Setting up…",
    "waiting": "Set up: waiting for its first reading",
    "received": "First reading received",
    "revoked": "Disconnected by the ward",
}


def kit_token(row: PairingCode) -> str:
    used = row.used_at.isoformat() if row.used_at else ""
    return signing.dumps({"c": row.pk, "u": used}, salt=KIT_TOKEN_SALT, compress=True)


def kit_from_token(token: str | None) -> PairingCode | None:
    """The used code a kit token names; None for a bad token or a code used since by another."""
    if not token:
        return None
    try:
        data = signing.loads(token, salt=KIT_TOKEN_SALT, max_age=settings.VW_PAIRING_CODE_MINUTES * 60)
    except signing.BadSignature:
        return None
    row = PairingCode.objects.select_related("patient__ward").filter(pk=data.get("c")).first()
    if row is None or row.used_at is None or row.used_at.isoformat() != data.get("u"):
        return None
    return row


def kit_of_device(device: Device) -> PairingCode | None:
    """The code whose kit ``device`` joined: the patient's code in use when it was paired."""
    if device.patient_id is None or device.paired_at is None:
        return None
    codes = PairingCode.objects.filter(
        patient_id=device.patient_id,
        used_at__isnull=False,
        used_at__lte=device.paired_at,
        expires_at__gte=device.paired_at,
    )
    return codes.order_by("-used_at").first()


def kit_devices(row: PairingCode) -> list[Device]:
    return list(
        Device.objects.filter(
            patient_id=row.patient_id, paired_at__gte=row.used_at, paired_at__lte=row.expires_at
        ).order_by("paired_at", "pk")
    )


def kit_is_open(row: PairingCode, *, count: int | None = None) -> bool:
    count = len(kit_devices(row)) if count is None else count
    return row.expires_at > timezone.now() and row.patient.is_active and count < settings.VW_PAIRING_KIT_MAX


@dataclass(frozen=True)
class KitDevice:
    id: int
    name: str
    serial: str
    state: str
    title: str

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "serial": self.serial, "state": self.state, "title": self.title}


def kit_status(device: Device) -> list[KitDevice]:
    """Each device of ``device``'s kit, named, with where its set-up has got to."""
    row = kit_of_device(device)
    members = kit_devices(row) if row is not None else [device]
    shown = []
    for member in members:
        state = pairing_status(member).state
        shown.append(KitDevice(member.pk, member.get_kind_display(), member.serial, state, KIT_STATE_TITLES[state]))
    return shown


def pairing_kit_add(
    *, token: str | None, serial: str, client_ip: str | None = None, via: str = "patient page (kit)"
) -> PairingResult:
    """Pair one more device of the kit the token names: no new code, no secret on the phone."""
    _guard(client_ip)
    row = kit_from_token(token)
    if row is None:
        raise _refused("kit_closed")
    try:
        with transaction.atomic():
            # Locking the code serialises additions to its kit, so the count below holds.
            row = PairingCode.objects.select_for_update(of=("self",)).select_related("patient__ward").get(pk=row.pk)
            members = kit_devices(row)
            if row.expires_at <= timezone.now() or not row.patient.is_active:
                raise _refused("kit_closed", row.patient)
            if len(members) >= settings.VW_PAIRING_KIT_MAX:
                raise _refused("kit_full", row.patient)
            device = _device_for_pairing(serial, row.patient)
            if any(member.pk == device.pk and member.revoked_at is None for member in members):
                raise _refused("already_in_kit", row.patient)
            device_pair(device, row, via=via, issue_credentials=False, now=timezone.now())
    except PairingError as error:
        if error.reason in ("serial_not_recognised", "device_in_use"):
            source_failed(client_ip)  # guesses at serials count as guesses, as with codes
        raise
    return _result(device, None)
