"""One size of `make bench-history`, run by bench_history in its own process and database.

It migrates, seeds the given days, then answers one request a line on stdin (a path's name:
its time in seconds; ``ingest TAG``; ``archive``; ``disk``), each answer one JSON line on stdout
after ``@@``. The parent alternates requests between the two sizes, so whatever else the
machine is doing falls on both alike.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timedelta
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import connection

from benchmarks.history import ensure_months, seed_days, seed_ward
from benchmarks.history_measure import disk_figures, measure_ingest, once, path_runners
from history.archive import archive_month
from history.partitions import month_start, next_month


class Command(BaseCommand):
    help = "One size of bench-history (run by bench_history; not for direct use)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--now", required=True)
        parser.add_argument("--days", type=int, required=True, help="days of readings to seed")
        parser.add_argument("--ward-days", type=int, required=True, help="days of stays (the larger size's)")
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument("--archive-dir", required=True)

    def handle(self, *args, **options) -> None:
        logging.getLogger("axes").setLevel(logging.WARNING)
        now = datetime.fromisoformat(options["now"])
        call_command("migrate", verbosity=0)
        ward = seed_ward(now=now, days=options["ward_days"])
        ensure_months(now - timedelta(days=options["ward_days"] + 1), now)
        seed_days(ward, range(options["days"]), options["seed"], lambda line: print(line, file=sys.stderr))
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        runners = path_runners(ward)
        self._answer({"ready": True, "disk": disk_figures()})
        for line in sys.stdin:
            request = line.split()
            if not request or request[0] == "quit":
                break
            if request[0] == "ingest":
                self._answer(measure_ingest(ward, request[1]))
            elif request[0] == "disk":
                self._answer(disk_figures())
            elif request[0] == "archive":
                month = next_month(month_start(now - timedelta(days=options["days"])))
                if next_month(month) > month_start(now):
                    self._answer({"skipped": "the history holds no whole month before the current one"})
                    continue
                result = archive_month(
                    table="patients_observation", month=month, directory=Path(options["archive_dir"]),
                    dry_run=False, now=now,
                )  # fmt: skip
                self._answer(
                    {"partition": result.partition, "rows": result.rows, "seconds": round(result.seconds, 1),
                     "archive_bytes": result.file_bytes, "partition_bytes": result.partition_bytes}
                )  # fmt: skip
            else:
                self._answer({"seconds": once(runners[request[0]])})

    def _answer(self, value: dict) -> None:
        sys.stdout.write("@@" + json.dumps(value, default=str) + "\n")
        sys.stdout.flush()
