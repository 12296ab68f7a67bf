import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertKind, AlertState, Outcome, Severity
from alerts.services import sweep_overdue_observations
from scoring.services import rescore_patient
from tests.scoring_services.builders import PatientFactory, record, record_set

pytestmark = pytest.mark.django_db


def _overdue(patient):
    return Alert.objects.filter(patient=patient, kind=AlertKind.OBSERVATIONS_OVERDUE)


def test_a_patient_with_no_complete_set_12_hours_after_admission_is_overdue():
    # given a patient admitted 13 hours ago with no readings, and one admitted an hour ago
    now = timezone.now()
    late = PatientFactory(admitted_at=now - dt.timedelta(hours=13))
    new = PatientFactory(admitted_at=now - dt.timedelta(hours=1))
    # when the sweep runs
    sweep_overdue_observations(now=now)
    # then only the first is overdue, as a technical alert
    alert = _overdue(late).get()
    assert alert.category == "technical" and "since admission" in alert.detail
    assert not _overdue(new).exists()


@pytest.mark.parametrize(
    ("values", "age", "overdue"),
    [
        ({}, dt.timedelta(hours=11, minutes=59), False),  # band zero: 12-hourly
        ({}, dt.timedelta(hours=12, minutes=1), True),
        ({"heart_rate": 95}, dt.timedelta(hours=3, minutes=59), False),  # low: 4-hourly (stricter end of 4-6)
        ({"heart_rate": 95}, dt.timedelta(hours=4, minutes=1), True),
        ({"heart_rate": 115, "respiratory_rate": 22, "temperature": 38.5}, dt.timedelta(minutes=59), False),  # medium
        ({"heart_rate": 115, "respiratory_rate": 22, "temperature": 38.5}, dt.timedelta(minutes=61), True),
    ],
)
def test_overdue_is_measured_against_the_current_bands_monitoring_frequency(values, age, overdue):
    # given a patient whose newest complete set is `age` old, scored at the time
    now = timezone.now()
    patient = PatientFactory(admitted_at=now - dt.timedelta(days=1))
    record_set(patient, at=now - age, **values)
    rescore_patient(patient.pk, now=now - age)
    # when the sweep runs now
    sweep_overdue_observations(now=now)
    # then it is overdue exactly when the band's interval has passed
    assert _overdue(patient).exists() is overdue


def test_an_incomplete_newer_set_does_not_clear_overdue():
    # given a patient whose last complete set is 13 hours old
    now = timezone.now()
    patient = PatientFactory(admitted_at=now - dt.timedelta(days=1))
    record_set(patient, at=now - dt.timedelta(hours=13))
    rescore_patient(patient.pk, now=now - dt.timedelta(hours=13))
    # when only a pulse arrives and the sweep runs
    record(patient, at=now, heart_rate=70)
    rescore_patient(patient.pk, now=now)
    sweep_overdue_observations(now=now)
    # then the patient is still overdue: part of a set is not a set
    assert _overdue(patient).get().state == AlertState.OPEN


def test_a_complete_set_resolves_the_overdue_alert_itself():
    # given an overdue patient
    now = timezone.now()
    patient = PatientFactory(admitted_at=now - dt.timedelta(hours=13))
    sweep_overdue_observations(now=now)
    # when a complete set is scored
    record_set(patient, at=now)
    rescore_patient(patient.pk, now=now)
    # then the alert resolved automatically, and a later sweep does not reopen it
    sweep_overdue_observations(now=now + dt.timedelta(minutes=1))
    alert = _overdue(patient).get()
    assert (alert.state, alert.outcome) == (AlertState.RESOLVED, Outcome.AUTO_RESOLVED)


def test_the_sweep_raises_once_and_resolves_when_the_cause_clears_by_itself():
    # given an overdue patient swept twice
    now = timezone.now()
    patient = PatientFactory(admitted_at=now - dt.timedelta(hours=13))
    first = sweep_overdue_observations(now=now)
    second = sweep_overdue_observations(now=now + dt.timedelta(minutes=1))
    assert (first["raised"], second["raised"]) == (1, 0)
    # when a complete score exists that the sweep can see (scored elsewhere)
    record_set(patient, at=now)
    rescore_patient(patient.pk, now=now)
    # then one alert in all
    assert _overdue(patient).count() == 1


def test_an_overdue_high_risk_patient_gets_a_more_severe_alert():
    # given a high-risk patient whose complete set is 20 minutes old (15-minute band)
    now = timezone.now()
    patient = PatientFactory()
    record_set(
        patient,
        at=now - dt.timedelta(minutes=20),
        heart_rate=115,
        respiratory_rate=22,
        temperature=39.5,
        systolic_bp=105,
    )
    rescore_patient(patient.pk, now=now - dt.timedelta(minutes=20))
    # when swept / then overdue at medium severity
    sweep_overdue_observations(now=now)
    assert _overdue(patient).get().severity == Severity.MEDIUM
