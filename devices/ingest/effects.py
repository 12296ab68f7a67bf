"""The services of other apps that ingest calls inside its batch transaction, in one place.

Each one defers its own side effects (Celery tasks, live events) until the batch commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from alerts.services import alert_fall_detected as _alert_fall_detected
from scoring.services import request_rescore as _request_rescore


def record_contact(
    *,
    contacts: Mapping[int, datetime],
    readings: Mapping[int, datetime],
    batteries: Mapping[int, tuple[int, datetime]],
) -> None:
    from devices.connectivity import record_contact as _record_contact

    _record_contact(contacts=contacts, readings=readings, batteries=batteries)


def record_status(*, device_pk: int, state: str, battery: int | None, at: datetime) -> None:
    from devices.connectivity import record_status as _record_status

    _record_status(device_pk=device_pk, state=state, battery=battery, at=at)


def request_rescore(patient_ids: Iterable[int]) -> None:
    _request_rescore(patient_ids)


def alert_fall_detected(*, patient_id: int, observation_id: int, measured_at: datetime) -> None:
    _alert_fall_detected(patient_id=patient_id, observation_id=observation_id, measured_at=measured_at)
