"""Builders for the dashboard tests: wards with staff, patients with scores, devices and alerts."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Role
from alerts.models import Alert, AlertKind, AlertState, Category, Severity
from devices.models import Connectivity
from scoring.models import EarlyWarningScore
from tests.factories import DeviceFactory, PatientFactory, UserFactory, WardFactory, test_nhs_number

RISK_TOTALS = {"low": 1, "low-medium": 3, "medium": 5, "high": 7}
RESPONSES = {
    "low": "Ward-based response: assess by a registered nurse.",
    "low-medium": "Ward-based response: urgent review by a clinician.",
    "medium": "Key threshold for urgent response: urgent review by a clinician skilled in acute illness.",
    "high": "Urgent or emergency response: emergency assessment by a team with critical care skills.",
}
# A range of our own, well above the shared factory's sequence, so the two never collide.
_nhs_numbers = itertools.count(200_000)


def unique_nhs_number() -> str:
    return test_nhs_number(next(_nhs_numbers))


def new_patient(ward: Any, **extra: Any) -> Any:
    return PatientFactory(ward=ward, nhs_number=unique_nhs_number(), **extra)


# Plausible readings for each score, taken in turn until the points add up to the total.
_EXAMPLE_POINTS = [
    ("respiratory_rate", {3: 26, 2: 22, 1: 10}),
    ("heart_rate", {3: 135, 2: 115, 1: 95}),
    ("temperature", {3: 34.9, 2: 39.2, 1: 38.4}),
    ("systolic_bp", {3: 88, 2: 98, 1: 108}),
    ("spo2", {3: 91, 2: 93, 1: 95}),
]


def sub_scores_adding_up_to(total: int) -> dict[str, dict[str, Any]]:
    sub_scores, left = {}, total
    for name, examples in _EXAMPLE_POINTS:
        points = min(left, 3 if name == "respiratory_rate" and total >= 7 else 2 if total > 3 else 1)
        if points <= 0:
            break
        sub_scores[name] = {"value": examples[points], "score": points}
        left -= points
    return sub_scores


def make_score(patient: Any, *, total: int, risk: str, minutes_ago: int = 0, **extra: Any) -> EarlyWarningScore:
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    fields = {
        "computed_at": at,
        "as_of": at,
        "total": total,
        "risk": risk,
        "band": risk,
        "spo2_scale": patient.spo2_scale,
        "complete": True,
        "sub_scores": sub_scores_adding_up_to(total),
        "missing": [],
        "clinical_response": RESPONSES[risk],
        "monitoring_frequency": "hourly",
        "monitoring_interval_s": 3600,
    }
    score = EarlyWarningScore.objects.create(patient=patient, **{**fields, **extra})
    patient.current_score = score
    patient.save(update_fields=["current_score"])
    return score


def make_alert(patient: Any, *, severity: int = Severity.HIGH, state: str = AlertState.OPEN, **extra: Any) -> Alert:
    now = timezone.now()
    fields = {
        "kind": AlertKind.NEWS2_RISK,
        "category": Category.CLINICAL,
        "title": "NEWS2 7 – high",
        "opened_at": now,
        "updated_at": now,
    }
    return Alert.objects.create(patient=patient, severity=severity, state=state, **{**fields, **extra})


def make_patient(ward: Any, *, risk: str | None = "low", online: bool = True, **extra: Any) -> Any:
    patient = new_patient(ward, **extra)
    DeviceFactory(
        patient=patient,
        connectivity=Connectivity.ONLINE if online else Connectivity.OFFLINE,
        last_reading_at=timezone.now() - dt.timedelta(minutes=3 if online else 90),
        offline_since=None if online else timezone.now() - dt.timedelta(minutes=80),
        battery=81,
    )
    if risk is not None:
        make_score(patient, total=RISK_TOTALS[risk] - 1, risk=risk, minutes_ago=30)
        make_score(patient, total=RISK_TOTALS[risk], risk=risk)
    return patient


@pytest.fixture
def ward(db: Any) -> Any:
    return WardFactory(name="Respiratory Virtual Ward")


@pytest.fixture
def other_ward(db: Any) -> Any:
    return WardFactory(name="Frailty Virtual Ward")


@pytest.fixture
def clinician(ward: Any) -> Any:
    user = UserFactory(username="nurse", first_name="Nia", last_name="Nurse", role=Role.CLINICIAN)
    ward.staff.add(user)
    return user


@pytest.fixture
def operator(db: Any) -> Any:
    return UserFactory(username="operator", first_name="Olu", last_name="Operator", role=Role.OPERATOR)
