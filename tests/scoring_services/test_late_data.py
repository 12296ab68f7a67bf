import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import Alert
from scoring.models import EarlyWarningScore
from scoring.services import rescore_patient
from tests.scoring_services.builders import PatientFactory, record, record_set

pytestmark = pytest.mark.django_db


def test_a_late_reading_that_is_not_the_newest_raises_no_new_alert():
    # given a patient scored on a fresh normal set
    patient = PatientFactory()
    now = timezone.now()
    record_set(patient, at=now - dt.timedelta(minutes=2))
    rescore_patient(patient.pk, now=now)
    # when a store-and-forward upload delivers an alarming SpO2 measured 40 minutes ago
    late = record(patient, at=now - dt.timedelta(minutes=40), spo2=84)[0]
    late.is_late = True
    late.save()
    result = rescore_patient(patient.pk, now=now + dt.timedelta(seconds=5))
    # then it is history, not a new event: no new score and no alert
    assert result is None
    assert EarlyWarningScore.objects.filter(patient=patient).count() == 1
    assert not Alert.objects.exists()


def test_a_late_reading_that_is_still_the_newest_is_scored_as_current():
    # given a patient whose SpO2 device was offline for half an hour
    patient = PatientFactory()
    now = timezone.now()
    record_set(patient, at=now - dt.timedelta(minutes=50))
    rescore_patient(patient.pk, now=now - dt.timedelta(minutes=49))
    # when its stored reading from 20 minutes ago arrives, newer than any other SpO2
    late = record(patient, at=now - dt.timedelta(minutes=20), spo2=84)[0]
    score = rescore_patient(patient.pk, now=now)
    # then the score uses it as current and the single-parameter alert is raised
    assert score.sub_scores["spo2"]["observation_id"] == late.pk
    assert score.sub_scores["spo2"]["score"] == 3
    assert Alert.objects.filter(patient=patient, kind="single_parameter").count() == 1
