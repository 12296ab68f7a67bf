"""Register a device in stock with its factory key, or give a registered device a new key.

    manage.py register_device SN-000123 --kind pulse_oximeter [--mode spot_check] [--interval 14400]
    manage.py register_device SN-000123 --new-key          # re-key a device already registered

The factory key is printed once, for the device's firmware or label; only its hash is kept.
Supplied keys can be given with ``--claim-key`` (a supplier's import).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from devices.models import Device, DeviceKind, DeviceMode
from devices.registry import RegistryError, device_claim_key_set, device_register


class Command(BaseCommand):
    help = "Register a device in stock (or re-key one with --new-key) and print its factory key once."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("serial")
        parser.add_argument("--kind", choices=DeviceKind.values)
        parser.add_argument("--mode", choices=DeviceMode.values, default=DeviceMode.SPOT_CHECK)
        parser.add_argument("--interval", type=int, default=300, help="Expected seconds between reports.")
        parser.add_argument("--claim-key", default=None, help="The supplier's key for this device (else a new one).")
        parser.add_argument("--new-key", action="store_true", help="Give an already registered device a new key.")

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        serial = options["serial"].strip()
        if options["new_key"]:
            device = Device.objects.filter(serial__iexact=serial).first()
            if device is None:
                raise CommandError(f"No device with serial {serial} is registered.")
            key = device_claim_key_set(device=device, claim_key=options["claim_key"])
        else:
            if not options["kind"]:
                raise CommandError("--kind is required to register a new device.")
            try:
                device, key = device_register(
                    serial=serial,
                    kind=options["kind"],
                    mode=options["mode"],
                    expected_interval_s=options["interval"],
                    claim_key=options["claim_key"],
                )
            except RegistryError as error:
                raise CommandError(str(error)) from error
        self.stdout.write(f"{device.serial} factory key (shown once): {key}")
