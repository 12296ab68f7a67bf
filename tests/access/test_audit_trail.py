"""The audit trail: append-only, exportable by administrators only, as CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from rest_framework.test import APIClient

from accounts.audit import audit_record, parse_bound
from accounts.models import AuditEvent


def export(user, query: str = ""):
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client.get(f"/api/v1/audit/export.csv{query}")


def test_an_audit_event_cannot_be_changed_or_deleted(world):
    # given a recorded view of a patient
    event = audit_record(actor=world["actors"]["own_clinician"], action="patient.viewed", patient=world["patient"])

    # when someone tries to change or delete it, then both are refused
    event.action = "nothing.happened"
    with pytest.raises(ValueError, match="append-only"):
        event.save()
    with pytest.raises(ValueError, match="append-only"):
        event.delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL only")
def test_postgresql_refuses_update_and_delete_of_audit_rows_even_in_bulk(world):
    audit_record(actor=None, action="device.paired", patient=world["patient"])
    for attempt in (lambda: AuditEvent.objects.update(action="x"), lambda: AuditEvent.objects.all().delete()):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    assert AuditEvent.objects.filter(action="device.paired").count() == 1


def test_an_administrator_exports_the_trail_as_csv_and_the_export_is_recorded(world):
    # given a view and an alert action on record
    clinician = world["actors"]["own_clinician"]
    audit_record(actor=clinician, action="patient.viewed", patient=world["patient"], route="/patients/1/")
    audit_record(actor=clinician, action="alert.acknowledged", patient=world["patient"], obj=world["alert"])

    # when an administrator exports
    response = export(world["actors"]["administrator"])

    # then every event is a CSV row, and the export itself is on record
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows][:2] == ["patient.viewed", "alert.acknowledged"]
    assert rows[1]["object_type"] == "alerts.alert" and rows[0]["actor"] == clinician.username
    assert AuditEvent.objects.filter(action="audit.exported", actor=world["actors"]["administrator"]).exists()


@pytest.mark.parametrize("actor", ["own_clinician", "operator", "login_without_role", "anonymous"])
def test_only_an_administrator_may_export(world, actor):
    assert export(world["actors"][actor]).status_code in (401, 403)


def test_an_export_range_without_a_time_zone_is_refused_with_a_reason(world):
    response = export(world["actors"]["administrator"], "?since=2026-01-01T10:00")
    assert response.status_code == 400 and "time zone" in response.json()["detail"]


def test_an_export_range_selects_events_by_time(world):
    audit_record(actor=None, action="device.paired", patient=world["patient"])
    response = export(world["actors"]["administrator"], "?since=2000-01-01&until=2000-01-02")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows == []


def test_a_date_bound_means_midnight_utc():
    assert parse_bound("2026-03-29", "since").isoformat() == "2026-03-29T00:00:00+00:00"


def test_the_export_command_writes_csv_for_an_administrator_only(world, tmp_path):
    audit_record(actor=None, action="device.paired", patient=world["patient"])
    out = tmp_path / "audit.csv"
    call_command("export_audit", "--as", "admin", "-o", str(out))
    assert "device.paired" in out.read_text()
    with pytest.raises(CommandError, match="not an administrator"):
        call_command("export_audit", "--as", "clin-a")


def test_an_export_longer_than_one_page_keeps_every_event_once_in_order(world, monkeypatch):
    # given more events than one page of the export, several sharing one instant
    from accounts import audit

    monkeypatch.setattr(audit, "EXPORT_PAGE_SIZE", 3)
    for n in range(8):
        audit_record(actor=None, action="device.paired", patient=world["patient"], detail={"n": n})

    # when exported
    rows = list(
        csv.DictReader(io.StringIO(b"".join(export(world["actors"]["administrator"]).streaming_content).decode()))
    )

    # then every event is there once, oldest first
    assert [json.loads(r["detail"])["n"] for r in rows if r["action"] == "device.paired"] == list(range(8))
