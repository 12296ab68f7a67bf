"""Archiving one month of a partitioned table: export, verify, then detach (docs/history.md#archive).

The format: ``<partition>.csv.gz`` — gzip of RFC 4180 CSV in UTF-8 with a header row, written by
PostgreSQL's own ``COPY ... TO STDOUT (FORMAT csv, HEADER)`` in id order (timestamps in ISO 8601
with their UTC offset, empty field for NULL) — beside ``<partition>.manifest.json`` naming the
table, the partition's range, the columns, the row count and the SHA-256 of the uncompressed CSV.

Verification re-reads the written file, decompresses it, parses it as CSV and checks its row
count and checksum against both the manifest and the partition's own count. Only then is the
partition detached (``DETACH PARTITION``): it leaves every live query, stays in the database as
a plain table until the operator drops it, and can be attached again. Nothing is deleted here.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import hashlib
import json
import time
from datetime import datetime
from pathlib import Path

from django.db import connection, transaction
from django.utils import timezone

from accounts.audit import audit_record
from history.partitions import PARTITIONED_TABLES, PartitionedTable, month_start, next_month, partition_name


class ArchiveError(Exception):
    """The archive could not be written or did not verify; the partition stays attached."""


@dataclasses.dataclass(frozen=True)
class ArchiveResult:
    partition: str
    rows: int
    file: Path | None
    file_bytes: int
    partition_bytes: int
    seconds: float
    detached: bool
    dry_run: bool


def archive_month(
    *, table: str, month: datetime, directory: Path, dry_run: bool, actor=None, now: datetime | None = None
) -> ArchiveResult:
    if connection.vendor != "postgresql":
        raise ArchiveError("archiving detaches a PostgreSQL partition; this database has none")
    spec = _spec(table)
    start = month_start(month)
    if next_month(start) > month_start(now or timezone.now()):
        raise ArchiveError("only a month that has ended, before the current one, can be archived")
    name = partition_name(spec.table, start)
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s), pg_total_relation_size(to_regclass(%s))", [name, name])
        found, size = cursor.fetchone()
        if found is None:
            raise ArchiveError(f"no partition {name} (archived already, or never created)")
        if dry_run:
            return ArchiveResult(name, _count(cursor, name), None, 0, size, time.monotonic() - started, False, True)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{name}.csv.gz"
        with transaction.atomic():
            # No reading may be added to the month between the count, the export and the detach.
            cursor.execute(f"LOCK TABLE {_q(name)} IN SHARE MODE")
            rows = _count(cursor, name)
            digest, columns = _export(cursor, name, path)
            manifest = _manifest(spec, start, name, columns, rows, digest)
            (directory / f"{name}.manifest.json").write_text(json.dumps(manifest, indent=2))
            _verify(path, manifest)
            cursor.execute(f"ALTER TABLE {_q(spec.table)} DETACH PARTITION {_q(name)}")
            audit_record(
                actor=actor,
                action="history.archive",
                detail={
                    "partition": name,
                    "rows": rows,
                    "sha256": digest,
                    "file": str(path),
                    "bytes": path.stat().st_size,
                },
            )
    return ArchiveResult(name, rows, path, path.stat().st_size, size, time.monotonic() - started, True, False)


def _export(cursor, name: str, path: Path) -> tuple[str, list[str]]:
    digest = hashlib.sha256()
    with (
        gzip.open(path, "wb", compresslevel=6) as out,
        cursor.copy(
            f"COPY (SELECT * FROM {_q(name)} ORDER BY id) TO STDOUT (FORMAT csv, HEADER)"  # noqa: S608 - our partition
        ) as copy,
    ):
        for chunk in copy:
            data = bytes(chunk)
            digest.update(data)
            out.write(data)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as back:
        columns = next(csv.reader(back))
    return digest.hexdigest(), columns


def _manifest(spec: PartitionedTable, start: datetime, name: str, columns: list[str], rows: int, digest: str) -> dict:
    return {
        "format": "csv+gzip; RFC 4180, UTF-8, header row, NULL as an empty field, timestamps ISO 8601 with offset",
        "table": spec.table,
        "partition": name,
        "key": spec.key,
        "from": start.isoformat(),
        "to": next_month(start).isoformat(),
        "columns": columns,
        "rows": rows,
        "sha256": digest,
        "written_at": timezone.now().isoformat(),
    }


def _verify(path: Path, manifest: dict) -> None:
    digest, rows = hashlib.sha256(), -1  # the header is not a row
    with gzip.open(path, "rb") as raw:
        for block in iter(lambda: raw.read(1 << 20), b""):
            digest.update(block)
    with gzip.open(path, "rt", encoding="utf-8", newline="") as text:
        for _ in csv.reader(text):
            rows += 1
    if digest.hexdigest() != manifest["sha256"]:
        raise ArchiveError(f"{path}: checksum differs from the export's; partition left attached")
    if rows != manifest["rows"]:
        raise ArchiveError(f"{path}: {rows} rows read back, {manifest['rows']} in the partition; left attached")


def _spec(table: str) -> PartitionedTable:
    for spec in PARTITIONED_TABLES:
        if spec.table == table:
            return spec
    raise ArchiveError(f"{table} is not a partitioned table ({', '.join(s.table for s in PARTITIONED_TABLES)})")


def _count(cursor, name: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {_q(name)}")  # noqa: S608 - a partition name we built
    return cursor.fetchone()[0]


def _q(name: str) -> str:
    return connection.ops.quote_name(name)
