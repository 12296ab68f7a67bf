"""Load the demo wards, patients, devices and a few days of history (idempotent)."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand

from fixtures.demo import demo_logins_text, load_demo
from patients.models import Ward


class Command(BaseCommand):
    help = "Load two demo wards with twenty synthetic patients, their devices and a few days of history."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--seed", type=int, default=2026, help="Same seed, same demo (default 2026).")
        parser.add_argument("--days", type=int, default=3, help="Days of history to write (default 3).")
        parser.add_argument("--credentials", type=Path, help="Where to keep new device secrets for the simulator.")
        parser.add_argument(
            "--if-empty", action="store_true", help="Do nothing when the database already has any ward."
        )

    def handle(self, *args, seed: int, days: int, credentials: Path | None, if_empty: bool, **options) -> None:  # type: ignore[no-untyped-def]
        if days < 1:
            self.stderr.write(self.style.ERROR("--days must be at least 1"))
            raise SystemExit(2)
        if if_empty and Ward.objects.exists():
            self.stdout.write("The database already has wards: demo not loaded (run load_demo without --if-empty).")
            return
        started = time.monotonic()
        summary = load_demo(seed=seed, history_days=days, credentials_path=credentials)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready in {time.monotonic() - started:.1f}s: {summary.wards} wards, {summary.patients} patients "
                f"({summary.new_patients} new), {summary.devices} devices, {summary.observations} observations, "
                f"{summary.scores} scores, {summary.alerts} alerts."
            )
        )
        self.stdout.write(demo_logins_text())
