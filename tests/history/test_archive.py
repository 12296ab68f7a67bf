"""Archiving a month: exported in the documented format, verified, then detached; audited; dry-runnable."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json

import pytest
from django.core.management import call_command

from accounts.models import AuditEvent
from history.archive import ArchiveError, _verify, archive_month
from history.partitions import OBSERVATIONS, create_month, partitions_of
from patients.models import Observation
from tests.factories import ObservationFactory

MONTH = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def march(postgresql):
    from django.db import connection

    with connection.cursor() as cursor:
        create_month(cursor, OBSERVATIONS, MONTH)
    readings = [ObservationFactory(measured_at=MONTH + dt.timedelta(days=n, hours=3), value=90 + n) for n in range(5)]
    keep = ObservationFactory(measured_at=MONTH + dt.timedelta(days=31))  # April: not archived
    return readings, keep


def _partitions() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        return [name for name, _ in partitions_of(cursor, "patients_observation")]


def test_a_dry_run_reports_the_month_and_changes_nothing(march, tmp_path):
    result = archive_month(table="patients_observation", month=MONTH, directory=tmp_path, dry_run=True)

    assert result.rows == 5 and result.partition_bytes > 0 and not result.detached
    assert "patients_observation_p2025_03" in _partitions()
    assert list(tmp_path.iterdir()) == []
    assert not AuditEvent.objects.filter(action="history.archive").exists()


def test_a_month_is_exported_verified_and_detached(march, tmp_path):
    readings, keep = march

    result = archive_month(table="patients_observation", month=MONTH, directory=tmp_path, dry_run=False)

    assert result.detached and result.rows == 5
    manifest = json.loads((tmp_path / "patients_observation_p2025_03.manifest.json").read_text())
    with gzip.open(tmp_path / "patients_observation_p2025_03.csv.gz", "rt", newline="") as archived:
        rows = list(csv.DictReader(archived))
    assert manifest["rows"] == 5 and manifest["columns"][0] == "id"
    assert [int(row["id"]) for row in rows] == sorted(r.pk for r in readings)
    assert {float(row["value"]) for row in rows} == {90.0, 91.0, 92.0, 93.0, 94.0}
    assert "patients_observation_p2025_03" not in _partitions()
    assert not Observation.objects.filter(pk__in=[r.pk for r in readings]).exists()
    assert Observation.objects.filter(pk=keep.pk).exists()
    assert AuditEvent.objects.get(action="history.archive").detail["rows"] == 5


def test_a_damaged_export_fails_verification(march, tmp_path):
    path = tmp_path / "x.csv.gz"
    with gzip.open(path, "wt") as out:
        out.write("id,value\n1,90\n")
    with pytest.raises(ArchiveError, match="checksum"):
        _verify(path, {"sha256": "0" * 64, "rows": 1})
    with pytest.raises(ArchiveError, match="rows read back"):
        import hashlib

        _verify(path, {"sha256": hashlib.sha256(b"id,value\n1,90\n").hexdigest(), "rows": 2})


def test_the_current_month_cannot_be_archived(postgresql, tmp_path):
    with pytest.raises(ArchiveError, match="has ended"):
        archive_month(table="patients_observation", month=dt.datetime.now(dt.UTC), directory=tmp_path, dry_run=False)


def test_the_command_archives_with_a_dry_run_first(march, tmp_path, capsys):
    call_command("history", "archive", "--table", "patients_observation", "--month", "2025-03",
                 "--directory", str(tmp_path), "--dry-run")  # fmt: skip
    assert "would archive patients_observation_p2025_03: 5 rows" in capsys.readouterr().out
    call_command("history", "archive", "--table", "patients_observation", "--month", "2025-03",
                 "--directory", str(tmp_path))  # fmt: skip
    assert "archived patients_observation_p2025_03: 5 rows" in capsys.readouterr().out
