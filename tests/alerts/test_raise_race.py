import pytest
from django.utils import timezone

from alerts.models import Alert, AlertKind, Severity
from alerts.services import core
from alerts.services.core import AlertNews, raise_or_escalate
from tests.scoring_services.builders import PatientFactory

pytestmark = pytest.mark.django_db


def test_a_worker_that_loses_the_race_to_raise_escalates_the_winners_alert(monkeypatch):
    # given a live medium alert raised by another worker that our worker's first look missed
    patient = PatientFactory()
    now = timezone.now()
    winner, _ = raise_or_escalate(
        patient=patient, news=AlertNews(kind=AlertKind.NEWS2_RISK, severity=Severity.MEDIUM, title="NEWS2 5"), now=now
    )
    real_lookup = core.live_alert
    looks = []

    def first_look_misses(**kwargs):
        looks.append(kwargs)
        return None if len(looks) == 1 else real_lookup(**kwargs)

    monkeypatch.setattr(core, "live_alert", first_look_misses)
    # when our worker raises a high alert for the same patient
    alert, outcome = raise_or_escalate(
        patient=patient, news=AlertNews(kind=AlertKind.NEWS2_RISK, severity=Severity.HIGH, title="NEWS2 7"), now=now
    )
    # then the unique constraint stopped a duplicate and the winner's alert was escalated
    assert len(looks) == 2
    assert (alert.pk, outcome) == (winner.pk, "escalated")
    assert Alert.objects.filter(patient=patient, kind=AlertKind.NEWS2_RISK).count() == 1
    assert Alert.objects.get(pk=winner.pk).severity == Severity.HIGH


def test_the_partial_unique_constraint_allows_a_new_alert_once_the_old_one_is_resolved():
    # given a resolved alert
    patient = PatientFactory()
    now = timezone.now()
    news = AlertNews(kind=AlertKind.FALL, severity=Severity.HIGH, title="Fall")
    old, _ = raise_or_escalate(patient=patient, news=news, now=now)
    Alert.objects.filter(pk=old.pk).update(state="resolved")
    # when the same kind is raised again / then it is a new alert
    new, outcome = raise_or_escalate(patient=patient, news=news, now=now)
    assert outcome == "raised" and new.pk != old.pk


def test_clinical_alerts_cannot_be_resolved_automatically():
    # given a live clinical alert / when the system tries to auto-resolve it / then it refuses
    patient = PatientFactory()
    raise_or_escalate(
        patient=patient, news=AlertNews(kind=AlertKind.FALL, severity=Severity.HIGH, title="F"), now=timezone.now()
    )
    with pytest.raises(ValueError, match="never resolved automatically"):
        core.auto_resolve(kind=AlertKind.FALL, patient_id=patient.pk, now=timezone.now(), note="")
    assert Alert.objects.get(patient=patient).state == "open"
