"""The services of other apps that ingest calls inside its batch transaction, in one place.

Each one defers its own side effects (Celery tasks, live events) until the batch commits.
Tests spy on these names; the real services are called through them.
"""

from __future__ import annotations

from alerts.services import alert_fall_detected
from devices.connectivity import record_contact, record_status
from devices.network import record_network
from scoring.services import request_rescore_after_readings

__all__ = ["alert_fall_detected", "record_contact", "record_network", "record_status", "request_rescore_after_readings"]
