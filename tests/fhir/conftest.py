"""A patient with one of every reading the platform stores, scored, on a ward with a clinician."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Role
from devices.models import DeviceKind
from patients.models import Observation, Patient
from scoring.models import EarlyWarningScore
from scoring.services import rescore_patient
from tests.factories import DeviceFactory, PatientFactory, UserFactory, WardFactory
from tests.scoring_services.builders import clean_cache, eager_tasks  # noqa: F401 (fixtures for these tests)


@dataclass
class Ward:
    patient: Patient
    other: Patient  # on another ward
    clinician: Any
    stranger: Any  # a clinician of the other ward
    readings: dict[str, Observation] = field(default_factory=dict)
    score: EarlyWarningScore | None = None
    devices: dict[str, Any] = field(default_factory=dict)


def reading(patient, type_, value, *, unit="", code="", at, device=None, by=None, n=[0]) -> Observation:  # noqa: B006
    n[0] += 1
    return Observation.objects.create(
        patient=patient, type=type_, value=value, unit=unit, code=code, measured_at=at, received_at=at,
        device=device, msg_id=f"m{n[0]}" if device else "", msg_index=0 if device else None, entered_by=by,
    )  # fmt: skip


@pytest.fixture
def ward(db, settings) -> Ward:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    home, away = WardFactory(name="Ward A", phone="0300 000 0001"), WardFactory(name="Ward B")
    patient = PatientFactory(
        ward=home, given_name="Ada", family_name="Lovelace", postcode="LS1 4AP", phone="0113 496 0000"
    )
    other = PatientFactory(ward=away, given_name="Bea", family_name="Brown")
    clinician = UserFactory(username="clin-a", role=Role.CLINICIAN, first_name="Nia", last_name="Jones")
    home.staff.add(clinician)
    stranger = UserFactory(username="clin-b", role=Role.CLINICIAN)
    away.staff.add(stranger)
    now = timezone.now().replace(microsecond=0)
    oximeter = DeviceFactory(patient=patient, kind=DeviceKind.PULSE_OXIMETER, serial="OX-1")
    cuff = DeviceFactory(patient=patient, kind=DeviceKind.BP_MONITOR, serial="BP-1")
    thermometer = DeviceFactory(patient=patient, kind=DeviceKind.THERMOMETER, serial="TH-1")
    sensor = DeviceFactory(patient=patient, kind=DeviceKind.FALL_SENSOR, serial="FS-1")
    at = now - dt.timedelta(minutes=10)
    r = {
        "respiratory_rate": reading(patient, "respiratory_rate", 22, unit="/min", at=at, by=clinician),
        "spo2": reading(patient, "spo2", 93, unit="%", at=at, device=oximeter),
        "heart_rate": reading(patient, "heart_rate", 95, unit="/min", at=at, device=oximeter),
        "systolic_bp": reading(patient, "systolic_bp", 118, unit="mm[Hg]", at=at, device=cuff),
        "diastolic_bp": reading(patient, "diastolic_bp", 76, unit="mm[Hg]", at=at, device=cuff),
        "temperature": reading(patient, "temperature", 38.2, unit="Cel", at=at, device=thermometer),
        "consciousness": reading(patient, "consciousness", None, code="A", at=at, by=clinician),
        "on_oxygen": reading(patient, "on_oxygen", 1.0, at=at, by=clinician),
        "o2_flow_rate": reading(patient, "o2_flow_rate", 2, unit="L/min", at=at, by=clinician),
        "weight": reading(patient, "weight", 71.5, unit="kg", at=at - dt.timedelta(hours=1), by=clinician),
        "fall_detected": reading(patient, "fall_detected", 1.0, at=at - dt.timedelta(hours=2), device=sensor),
        "room_air": reading(patient, "on_oxygen", 0.0, at=at - dt.timedelta(hours=3), by=clinician),
        "lone_diastolic": reading(
            patient, "diastolic_bp", 80, unit="mm[Hg]", at=at - dt.timedelta(hours=4), device=cuff
        ),
    }  # fmt: skip
    score = rescore_patient(patient.pk, now=now)
    devices = {"oximeter": oximeter, "cuff": cuff, "thermometer": thermometer, "sensor": sensor}
    return Ward(patient, other, clinician, stranger, r, score, devices)


@pytest.fixture
def incomplete_score(ward) -> EarlyWarningScore:
    """A score from SpO2 alone: six parameters missing."""
    lone = PatientFactory(ward=ward.patient.ward, given_name="Cy", family_name="Solo")
    reading(lone, "spo2", 97, unit="%", at=timezone.now() - dt.timedelta(minutes=5), by=ward.clinician)
    score = rescore_patient(lone.pk, now=timezone.now())
    assert score is not None and not score.complete
    return score
