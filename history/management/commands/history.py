"""``manage.py history``: partitions, retention and archives, each with --dry-run where it changes data.

manage.py history partitions [--ahead N]          list partitions, create the missing ones ahead
manage.py history receipts [--dry-run]            delete receipts past VW_RECEIPT_RETENTION_DAYS
manage.py history summarise --day 2026-01-31 [--dry-run]
                                                  fold one day's raw continuous readings per minute
manage.py history archive --table patients_observation --month 2026-01 [--dry-run]
                                                  export, verify, detach one month (docs/history.md)
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils import timezone

from history.archive import ArchiveError, archive_month
from history.partitions import PARTITIONED_TABLES, ensure_partitions, is_partitioned, partitions_of
from history.retention import prune_receipts, summarise_window


class Command(BaseCommand):
    help = "Time partitions, retention and archives of the tables that grow with readings."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        parts = sub.add_parser("partitions", help="List partitions and create the missing ones ahead.")
        parts.add_argument("--ahead", type=int, default=settings.VW_PARTITION_MONTHS_AHEAD)
        receipts = sub.add_parser("receipts", help="Delete idempotency receipts past their retention.")
        receipts.add_argument("--dry-run", action="store_true")
        summary = sub.add_parser("summarise", help="Summarise one day's raw continuous readings per minute.")
        summary.add_argument("--day", required=True, help="YYYY-MM-DD (UTC)")
        summary.add_argument("--dry-run", action="store_true")
        archive = sub.add_parser("archive", help="Export, verify and detach one month's partition.")
        archive.add_argument("--table", required=True, choices=[s.table for s in PARTITIONED_TABLES])
        archive.add_argument("--month", required=True, help="YYYY-MM (UTC)")
        archive.add_argument("--directory", type=Path, default=settings.VW_ARCHIVE_DIR)
        archive.add_argument("--dry-run", action="store_true")

    def handle(self, *args, **options) -> None:
        action = options["action"]
        if action == "partitions":
            self._partitions(options["ahead"])
        elif action == "receipts":
            count = prune_receipts(now=timezone.now(), dry_run=options["dry_run"])
            self.stdout.write(f"{'would delete' if options['dry_run'] else 'deleted'} {count} receipts")
        elif action == "summarise":
            start = _parse(options["day"], "%Y-%m-%d", "--day")
            try:
                result = summarise_window(start=start, end=start + timedelta(days=1), dry_run=options["dry_run"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            verb = "would summarise" if result.dry_run else "summarised"
            self.stdout.write(
                f"{verb} {result.summarised} raw readings into {result.minutes} minutes; "
                f"kept {result.kept} that fed a score"
            )
        else:
            self._archive(options)

    def _partitions(self, ahead: int) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("SQLite: tables are not partitioned; nothing to do.")
            return
        created = ensure_partitions(now=timezone.now(), months_ahead=ahead)
        for name in created:
            self.stdout.write(f"created {name}")
        with connection.cursor() as cursor:
            for spec in PARTITIONED_TABLES:
                if not is_partitioned(cursor, spec.table):
                    self.stdout.write(f"{spec.table}: not partitioned (migrate first)")
                    continue
                for name, bound in partitions_of(cursor, spec.table):
                    self.stdout.write(f"{name}: {bound}")

    def _archive(self, options: dict) -> None:
        month = _parse(options["month"], "%Y-%m", "--month")
        try:
            result = archive_month(
                table=options["table"], month=month, directory=options["directory"], dry_run=options["dry_run"]
            )
        except ArchiveError as exc:
            raise CommandError(str(exc)) from exc
        if result.dry_run:
            self.stdout.write(
                f"would archive {result.partition}: {result.rows} rows, {result.partition_bytes} bytes on disk"
            )
            return
        self.stdout.write(
            f"archived {result.partition}: {result.rows} rows to {result.file} ({result.file_bytes} bytes, "
            f"verified) in {result.seconds:.1f} s; detached, {result.partition_bytes} bytes still on disk until dropped"
        )


def _parse(raw: str, pattern: str, name: str) -> datetime:
    try:
        return datetime.strptime(raw, pattern).replace(tzinfo=UTC)
    except ValueError as exc:
        raise CommandError(f"{name} {raw!r} is not {pattern}") from exc
