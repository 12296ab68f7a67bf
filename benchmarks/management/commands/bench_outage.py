"""`make bench-outage`: how fast a mass dropout surfaces, and that each episode is recorded once."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections

from benchmarks import stack
from benchmarks.outage import run


class Command(BaseCommand):
    help = (
        "Seed N devices on the real PostgreSQL (a database of its own, created and dropped), make them overdue "
        "at one deadline, sweep as the beat would, and report deadline-to-incident and deadline-to-every-episode."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--devices", type=int, default=10_000, help="devices silent at once (default %(default)s)")
        parser.add_argument("--reporting", type=int, default=1_000, help="devices on another network, still reporting")
        parser.add_argument("--sweepers", type=int, default=2, help="sweeps racing each other (default %(default)s)")
        parser.add_argument(
            "--phase",
            type=float,
            default=None,
            help="seconds from the deadline to the first sweep: the beat's phase; default the worst case, "
            "the beat less 0.1 s",
        )
        parser.add_argument(
            "--beat", type=float, default=None, help="seconds between sweeps (default VW_SWEEP_SECONDS)"
        )
        parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
        parser.add_argument("--output", default="bench-results/outage.json")

    def handle(self, *args: object, **options: object) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_outage needs PostgreSQL: set DATABASE_URL (make bench-outage does)")
        url = settings.DATABASE_URL
        try:
            stack.bench_database_name(url)
        except stack.BenchSetupError as exc:
            raise CommandError(str(exc)) from None
        connections.close_all()
        stack.recreate_database(url)
        try:
            call_command("migrate", verbosity=0, interactive=False)
            beat = float(options["beat"] or settings.VW_SWEEP_SECONDS)
            phase = options["phase"]
            result = run(
                silent=int(options["devices"]),
                reporting=int(options["reporting"]),
                sweepers=int(options["sweepers"]),
                phase_s=float(phase) if phase is not None else round(beat - 0.1, 3),
                beat_s=beat,
            )
        finally:
            connections.close_all()
            if not options["keep"]:
                stack.drop_database(url)
        output = Path(str(options["output"]))
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
        self.stdout.write(
            f"{result.devices} devices silent at once, {result.sweepers} sweepers racing: "
            f"incident visible {result.deadline_to_incident_s} s and every episode recorded "
            f"{result.deadline_to_all_episodes_s} s after the deadline; the first sweep began {result.phase_s} s after "
            f"it, then every {result.beat_interval_s:.0f} s (each sweep took {result.sweep_seconds} s). "
            f"Gaps {result.gaps}, alerts {result.alerts}, raised events {result.raised_events}, "
            f"incidents {result.incidents}, folded {result.members}. An idle sweep (nothing due, "
            f"{result.devices + result.reporting} devices) took {result.idle_sweep_ms} ms (median of "
            f"{len(result.idle_sweep_samples_ms)}): {result.idle_cost_share:.2%} of one core at this beat: "
            f"{'exactly once' if result.exactly_once else 'NOT EXACTLY ONCE'}."
        )
        if not result.exactly_once:
            raise CommandError("the sweep did not record each episode exactly once")
