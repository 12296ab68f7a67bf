"""`make bench-history`: a year of a 300-bed ward (50M readings) against its first week (1M).

Two databases of its own, named after DATABASE_URL's (under make BENCH_HISTORY_DATABASE_URL):
``<name>_small`` seeded with ``--small`` rows and ``<name>`` with ``--rows``, both with the same
seed, the same moment as "now" and the same patients, through ingest's COPY path. Each is
served by its own process (bench_history_probe); every measurement alternates between the two,
so other work on the machine falls on both sizes alike. Then one whole month of the large one
is archived. Figures go to ``--output``; both databases are dropped unless ``--keep-db``.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections
from django.utils import timezone

from benchmarks import stack
from benchmarks.history import BEDS, PER_DAY
from benchmarks.stats import summarise_latencies

PATHS = (
    "ward_board",
    "patient_page",
    "chart_30_days",
    "rescore_batch_of_50",
    "api_observation_page",
    "fhir_observation_read",
)


def _count(raw: str) -> int:
    text = raw.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000}.get(text[-1:], 1)
    try:
        return int(float(text.rstrip("KM")) * scale)
    except ValueError:
        raise CommandError(f"{raw!r} is not a row count such as 1M or 50M") from None


class Probe:
    """One size's process: ask it to run something, read its one-line JSON answer."""

    def __init__(self, database_url: str, args: list[str]) -> None:
        env = {**os.environ, "DATABASE_URL": database_url}
        command = [sys.executable, "-W", "ignore", "manage.py", "bench_history_probe", *args]
        self.process = subprocess.Popen(  # noqa: S603 - our own manage.py, our own arguments
            command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def answer(self) -> dict:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("@@"):
                return json.loads(line[2:])
        raise CommandError(f"bench_history_probe ended with {self.process.wait()}")

    def ask(self, request: str) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write(request + "\n")
        self.process.stdin.flush()
        return self.answer()

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait(timeout=60)


class Command(BaseCommand):
    help = "Hot paths and ingest with a week of readings and with a year (docs/benchmarks.md#history)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--rows", default="50M", help="the large size (default %(default)s)")
        parser.add_argument("--small", default="1M", help="the small size (default %(default)s)")
        parser.add_argument("--repeats", type=int, default=100, help="timed runs of each path at each size")
        parser.add_argument("--ingest-rounds", type=int, default=5)
        parser.add_argument("--seed", type=int, default=20261204)
        parser.add_argument("--keep-db", action="store_true")
        parser.add_argument("--output", default="bench-results/history.json")

    def handle(self, *args, **options) -> None:
        if connection.vendor != "postgresql" or not settings.DATABASE_URL:
            raise CommandError("bench-history needs PostgreSQL: set DATABASE_URL (BENCH_HISTORY_DATABASE_URL)")
        small, large = _count(options["small"]), _count(options["rows"])
        if not 0 < small < large:
            raise CommandError("--small must be above 0 and below --rows")
        large_url = settings.DATABASE_URL
        base, _, name = large_url.rpartition("/")
        urls = {"small": f"{base}/{name}_small", "large": large_url}
        connections.close_all()
        for url in urls.values():
            stack.recreate_database(url)
        probes: dict[str, Probe] = {}
        try:
            self._run(urls, small, large, options, probes)
        finally:
            for probe in probes.values():
                probe.stop()
            if not options["keep_db"]:
                for url in urls.values():
                    stack.drop_database(url)

    def _run(self, urls: dict, small: int, large: int, options: dict, probes: dict) -> None:
        logging.getLogger("axes").setLevel(logging.WARNING)
        now = timezone.now()
        days = {"small": -(-small // PER_DAY), "large": -(-large // PER_DAY)}
        output = Path(options["output"])
        load_before = os.getloadavg()
        ready = {}
        for size in ("small", "large"):
            args = ["--now", now.isoformat(), "--days", str(days[size]), "--ward-days", str(days["large"]),
                    "--seed", str(options["seed"]), "--archive-dir", str(output.parent / "archive")]  # fmt: skip
            self.stdout.write(f"bench-history: seeding {size}: {days[size]} days, about {days[size] * PER_DAY:,} rows")
            probes[size] = Probe(urls[size], args)
            ready[size] = probes[size].answer()
        samples: dict[str, dict[str, list[float]]] = {size: {path: [] for path in PATHS} for size in probes}
        for path in PATHS:
            for _ in range(3):
                for probe in probes.values():
                    probe.ask(path)
        self.stdout.write(f"bench-history: measuring, {options['repeats']} runs of each path at each size")
        for _ in range(options["repeats"]):
            for path in PATHS:
                for size, probe in probes.items():
                    samples[size][path].append(probe.ask(path)["seconds"])
        ingest = {size: [] for size in probes}
        for round_ in range(options["ingest_rounds"]):
            for size, probe in probes.items():
                ingest[size].append(probe.ask(f"ingest {size[0]}{round_}"))
        self.stdout.write("bench-history: archiving one month of the large history")
        archive = probes["large"].ask("archive")
        results = self._results(ready, samples, ingest, archive, options, load_before)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(results, indent=2, default=str))
        self.stdout.write(json.dumps(results, indent=2, default=str))

    def _results(self, ready, samples, ingest, archive, options, load_before) -> dict:
        paths = {
            size: {path: _summary(values) for path, values in by_path.items()} for size, by_path in samples.items()
        }
        disk = ready["large"]["disk"]
        per_obs = (int(disk["table_bytes"]) + int(disk["index_bytes"])) / max(int(disk["rows"]), 1)
        ingest_summary = {
            size: {
                "platform_msg_per_s": round(sum(r["platform_msg_per_s"] for r in rounds) / len(rounds)),
                "baseline_msg_per_s": round(sum(r["baseline_msg_per_s"] for r in rounds) / len(rounds)),
                "ratio": round(sum(r["ratio"] for r in rounds) / len(rounds), 3),
            }
            for size, rounds in ingest.items()
        }
        return {
            "command": "make bench-history" + self._args(),
            "machine": {
                "cpus": os.cpu_count(),
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
            },
            "disk": {size: ready[size]["disk"] for size in ready},
            "paths": paths,
            "p99_ratio_large_over_small": {
                path: round(paths["large"][path]["p99_ms"] / max(paths["small"][path]["p99_ms"], 0.1), 2)
                for path in PATHS
            },
            "ingest": ingest_summary,
            "bytes_per_observation": round(per_obs, 1),
            "bytes_per_bed_day": round(per_obs * PER_DAY / BEDS),
            "archive_one_month": archive,
        }

    def _args(self) -> str:
        return f" BENCH_HISTORY_ARGS={shlex.quote(' '.join(sys.argv[2:]))}" if sys.argv[2:] else ""


def _summary(values: list[float]) -> dict:
    summary = summarise_latencies(values)
    return {"p50_ms": summary.p50_ms, "p99_ms": summary.p99_ms, "max_ms": summary.max_ms, "count": summary.count}
