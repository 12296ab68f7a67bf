"""Storing readings never waits for scoring or contact bookkeeping that holds the same rows."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection, connections, transaction

from devices.connectivity import _record_contact_locked
from devices.ingest import Incoming, handle_batch
from patients.models import Observation
from scoring.services import _rescore_locked, freshness_windows
from tests.ingest.conftest import obs_json

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL"),
]


def _hold_lock_while(lock, work) -> None:
    """Take ``lock()`` in another connection's transaction and keep it until ``work()`` is done."""
    held, release, errors = threading.Event(), threading.Event(), []

    def holder():
        try:
            with transaction.atomic():
                lock()
                held.set()
                release.wait(timeout=20)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert held.wait(timeout=10), errors
        with connection.cursor() as cursor:
            # Fail instead of hanging if the insert would wait for the holder.
            cursor.execute("SET lock_timeout = '3s'")
        work()
    finally:
        release.set()
        thread.join(timeout=30)
    assert not errors, errors


def _store_one(device, msg_id: str = "m1") -> None:
    now = datetime.now(UTC)
    reading = {"type": "heart_rate", "value": 72, "unit": "/min", "measured_at": now.isoformat()}
    [outcome] = handle_batch([Incoming(f"vw/v1/devices/{device.device_id}/obs", obs_json(msg_id, reading), now)])
    assert outcome.accepted == 1


def test_a_reading_is_stored_while_scoring_holds_the_patient(device):
    # given a rescore in progress for the patient, holding its row
    _store_one(device, "m0")

    def lock():
        _rescore_locked([device.patient_id], datetime.now(UTC), freshness_windows())

    # when a reading for that patient arrives, then it is stored without waiting
    _hold_lock_while(lock, lambda: _store_one(device))
    assert Observation.objects.filter(device=device).count() == 2


def test_a_reading_is_stored_while_another_batch_holds_the_device(device):
    # given a device heard a moment ago, and another batch holding its row for contact news
    _store_one(device, "m0")

    def lock():
        now = datetime.now(UTC)
        _record_contact_locked([device.pk], {device.pk: now}, {}, {})

    # when a reading from that device arrives, then it is stored without waiting
    _hold_lock_while(lock, lambda: _store_one(device))
    assert Observation.objects.filter(device=device).count() == 2
