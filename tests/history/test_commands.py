"""`manage.py history`: each subcommand answers in words, and refuses bad input with a reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import CommandError, call_command

from patients.models import Observation

pytestmark = pytest.mark.django_db


def test_partitions_lists_the_months_or_says_why_not(capsys):
    call_command("history", "partitions", "--ahead", "1")
    out = capsys.readouterr().out
    from django.db import connection

    if connection.vendor == "postgresql":
        assert "patients_observation_default: DEFAULT" in out
        assert "devices_ingestrejection_p" in out
    else:
        assert "SQLite: tables are not partitioned" in out


def test_summarise_refuses_while_raw_readings_are_kept_for_life(settings):
    settings.VW_RAW_CONTINUOUS_DAYS = 0
    with pytest.raises(CommandError, match="kept for the life of the record"):
        call_command("history", "summarise", "--day", "2026-01-31", "--dry-run")


def test_a_day_or_month_that_is_not_a_date_is_refused():
    with pytest.raises(CommandError, match="is not %Y-%m-%d"):
        call_command("history", "summarise", "--day", "31/01/2026")
    with pytest.raises(CommandError, match="is not %Y-%m"):
        call_command("history", "archive", "--table", "patients_observation", "--month", "January")


def test_receipts_dry_run_says_how_many_would_go(capsys):
    call_command("history", "receipts", "--dry-run")
    assert "would delete 0 receipts" in capsys.readouterr().out


def test_an_observation_window_needs_aware_bounds():
    with pytest.raises(ValueError, match="time-zone aware"):
        Observation.objects.in_window(dt.datetime(2026, 1, 1))
