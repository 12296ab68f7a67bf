"""Builders for the escalation tests: a ward with people on duty, and alerts raised on it."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Role
from alerts.models import AlertKind, Severity
from alerts.services.core import AlertNews, raise_or_escalate
from rota.models import DutyRole, Shift, StaffContact
from tests.factories import UserFactory, WardFactory
from tests.frontend.conftest import make_score, new_patient
from tests.scoring_services.builders import eager_tasks  # noqa: F401 (a fixture for these tests)


def on_shift(person: Any, role: str, ward: Any = None, *, hours: int = 8) -> Shift:
    now = timezone.now()
    return Shift.objects.create(
        person=person,
        role=role,
        ward=ward,
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=hours),
    )


def person(username: str, first: str, last: str, role: str = Role.CLINICIAN, mobile: str = "") -> Any:
    user = UserFactory(username=username, first_name=first, last_name=last, role=role, email=f"{username}@nhs.test")
    if mobile:
        StaffContact.objects.create(person=user, mobile=mobile)
    return user


@pytest.fixture
def team(db: Any) -> dict[str, Any]:
    """A ward with its clinician, the command-centre senior and operator, and the on-call doctor on duty."""
    ward = WardFactory(name="Respiratory Virtual Ward")
    nurse = person("nurse", "Nia", "Hughes", mobile="07700900001")
    doctor = person("doctor", "Dev", "Rao", mobile="07700900002")
    senior = person("senior", "Sam", "Okafor", Role.OPERATOR, mobile="07700900003")
    operator = person("operator", "Olu", "Adeyemi", Role.OPERATOR)
    ward.staff.add(nurse, doctor)
    on_shift(nurse, DutyRole.WARD_CLINICIAN, ward)
    on_shift(doctor, DutyRole.ON_CALL_DOCTOR, ward)
    on_shift(senior, DutyRole.COMMAND_CENTRE_SENIOR)
    on_shift(operator, DutyRole.COMMAND_CENTRE_OPERATOR)
    return {"ward": ward, "nurse": nurse, "doctor": doctor, "senior": senior, "operator": operator}


def high_alert(ward: Any, *, at: dt.datetime | None = None, kind: str = AlertKind.NEWS2_RISK) -> Any:
    patient = new_patient(ward, given_name="Alex", family_name="Breathless")
    make_score(patient, total=9, risk="high")
    news = AlertNews(
        kind=kind, severity=Severity.HIGH, title="NEWS2 9 at 10:00: high risk", data={"total": 9, "risk": "high"}
    )
    return raise_or_escalate(patient=patient, news=news, now=at or timezone.now())[0]
