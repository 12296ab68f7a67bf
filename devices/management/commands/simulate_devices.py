"""Play the demo ward's devices through the broker: stable patients, deteriorations, faults."""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devices.models import Device
from devices.outbox import ACK_TIMEOUT_S
from devices.simulator import Simulator, build_devices
from fixtures import demo_plan

SCENARIO_TEXT = {
    demo_plan.COPD_DETERIORATION: "COPD on SpO2 Scale 2, deteriorating: amber ~2.5 h, red ~3.5 h in",
    demo_plan.SEPSIS: "septic-looking deterioration: amber ~2.5 h, red ~3.5 h in",
    demo_plan.NOT_SPOT: "lives in a not-spot: patch drops out, then uploads stored readings late",
    demo_plan.DEVICE_DIES: "patch dies for good after ~1.5 h (Last Will: offline)",
    demo_plan.LOW_BATTERY: "patch battery draining below the low-battery threshold",
    demo_plan.MALFORMED: "patch firmware bug: every fourth message followed by a malformed one",
}


class Command(BaseCommand):
    help = "Simulate the demo ward's home devices publishing protocol-v1 messages through the MQTT broker."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--url", default="", help="Broker URL (default: MQTT_URL).")
        parser.add_argument("--speed", type=float, default=60.0, help="Scenario hours per real hour (default 60).")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--credentials", type=Path, help="JSON {device_id: secret} written by load_demo.")
        parser.add_argument("--duration", type=float, help="Stop after this many real seconds.")
        parser.add_argument(
            "--ack-timeout", type=float, default=ACK_TIMEOUT_S,
            help="Seconds a device waits for the platform's ack before resending a message (default 30).",
        )  # fmt: skip

    def handle(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
        url = options["url"] or settings.MQTT_URL
        if not url:
            raise CommandError("No broker: set MQTT_URL or pass --url mqtt://host:port")
        if options["speed"] <= 0:
            raise CommandError("--speed must be above 0")
        known = set(
            Device.objects.filter(
                device_id__startswith="demo-", revoked_at__isnull=True, patient__isnull=False
            ).values_list("device_id", flat=True)
        )
        if not known:
            raise CommandError("No demo devices in the database: run `manage.py load_demo` first.")
        devices = build_devices(demo_plan.demo_patients(), seed=options["seed"], only=known)
        if options["ack_timeout"] <= 0:
            raise CommandError("--ack-timeout must be above 0")
        simulator = Simulator(
            devices,
            url,
            speed=options["speed"],
            credentials=self._credentials(options),
            ack_timeout_s=options["ack_timeout"],
            outbox_path=Path(settings.VAR_DIR) / "sim-outbox.json",
        )
        self._describe(devices, url, options["speed"])
        stop = threading.Event()
        # Ctrl-C arrives as KeyboardInterrupt; SIGTERM (from runplatform or Docker) the same way.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        simulator.run(stop, duration=options["duration"])
        self.stdout.write(f"Simulator stopped after {simulator.published} messages.")

    def _credentials(self, options) -> dict[str, str]:  # type: ignore[no-untyped-def]
        path = options["credentials"] or Path(settings.VAR_DIR) / "sim-credentials.json"
        if not path.exists():
            if options["credentials"]:
                raise CommandError(f"Credentials file {path} does not exist")
            return {}  # an anonymous broker (the embedded one) needs none
        try:
            data = json.loads(path.read_text())
        except ValueError as exc:
            raise CommandError(f"Credentials file {path} is not JSON: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise CommandError(f"Credentials file {path} must be a JSON object of device id to secret")
        return data

    def _describe(self, devices, url: str, speed: float) -> None:  # type: ignore[no-untyped-def]
        logging.getLogger("devices.simulator").setLevel(logging.INFO)
        self.stdout.write(f"Simulating {len(devices)} devices through {url} at {speed:g}x (an hour every "
                          f"{3600 / speed:.0f}s).")  # fmt: skip
        seen = set()
        for device in devices:
            patient = device.patient
            if patient.key in seen or patient.scenario == demo_plan.STABLE:
                continue
            seen.add(patient.key)
            self.stdout.write(f"  {patient.given_name} {patient.family_name} ({patient.key}): "
                              f"{SCENARIO_TEXT[patient.scenario]}")  # fmt: skip
