"""Test helpers shared by the scoring, alerting and connectivity tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.utils import timezone

from patients.models import Observation, Patient
from tests.factories import DeviceFactory, ObservationFactory, PatientFactory

__all__ = ["DeviceFactory", "PatientFactory"]
from virtualward.celery import app as celery_app

NORMAL = {
    "respiratory_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "systolic_bp": 120,
    "heart_rate": 72,
    "consciousness": "A",
    "temperature": 37.0,
}
UNITS = {"respiratory_rate": "/min", "spo2": "%", "systolic_bp": "mm[Hg]", "heart_rate": "/min", "temperature": "Cel"}


def record(patient: Patient, *, at: dt.datetime | None = None, device=None, **values) -> list[Observation]:
    """Store one reading per keyword (parameter=value), all measured at ``at``."""
    at = at or timezone.now()
    device = device or DeviceFactory(patient=patient)
    made = []
    for parameter, value in values.items():
        fields = {"value": None, "code": "", "unit": UNITS.get(parameter, "")}
        if parameter == "consciousness":
            fields["code"] = value
        else:
            fields["value"] = float(value)
        made.append(
            ObservationFactory(
                patient=patient, device=device, type=parameter, measured_at=at, received_at=timezone.now(), **fields
            )
        )
    return made


def record_set(patient: Patient, *, at: dt.datetime | None = None, device=None, **overrides) -> list[Observation]:
    """A complete NEWS2 set, normal unless overridden; None leaves a parameter out."""
    values = {name: value for name, value in {**NORMAL, **overrides}.items() if value is not None}
    return record(patient, at=at, device=device, **values)


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Tasks run in-process even when a real broker is configured (REDIS_URL set)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture
def clean_cache() -> Iterator[None]:
    # Rescore-pending marks live in the cache (Redis under CI) and must not leak between tests.
    cache.clear()
    yield
    cache.clear()
