"""Registering devices in stock, each with the factory key it was supplied with.

The ward or the supplier registers a device by its serial before anyone pairs it. With it goes
the device's factory key (claim token): the secret the device holds, flashed at manufacture or
printed inside the case, with which it later collects its broker credentials
(``devices.pairing.device_credentials_collect``). The key is returned once; only its hash is
kept.
"""

from __future__ import annotations

from django.db import transaction

from devices.credentials import claim_key_generate, claim_key_hash
from devices.models import Device, DeviceKind, DeviceMode


class RegistryError(ValueError):
    pass


def device_register(
    *,
    serial: str,
    kind: str,
    mode: str = DeviceMode.SPOT_CHECK,
    expected_interval_s: int = 300,
    claim_key: str | None = None,
) -> tuple[Device, str]:
    """Put a new device in stock; returns it and its factory key (``claim_key`` or a new one)."""
    serial = (serial or "").strip()
    if not serial:
        raise RegistryError("A device needs its serial number.")
    if kind not in DeviceKind.values:
        raise RegistryError(f"{kind!r} is not a device kind (one of {', '.join(DeviceKind.values)}).")
    if mode not in DeviceMode.values:
        raise RegistryError(f"{mode!r} is not a device mode (one of {', '.join(DeviceMode.values)}).")
    if expected_interval_s < 1:
        raise RegistryError("The reporting interval must be at least one second.")
    key = claim_key or claim_key_generate()
    with transaction.atomic():
        if Device.objects.filter(serial__iexact=serial).exists():
            raise RegistryError(f"A device with serial {serial} is already registered.")
        device = Device.objects.create(
            serial=serial,
            kind=kind,
            mode=mode,
            expected_interval_s=expected_interval_s,
            claim_key_hash=claim_key_hash(key),
        )
    return device, key


def device_claim_key_set(*, device: Device, claim_key: str | None = None) -> str:
    """Give a registered device a factory key (a new one unless given); the old key stops working."""
    key = claim_key or claim_key_generate()
    Device.objects.filter(pk=device.pk).update(claim_key_hash=claim_key_hash(key))
    device.claim_key_hash = claim_key_hash(key)
    return key
