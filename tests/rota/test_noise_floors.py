"""Noise, with safety floors: technical alerts can be snoozed with a reason, clinical ones never;
an acknowledged alert tells its owner again only when the patient gets worse."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from alerts.models import AlertKind, Severity
from alerts.selectors import alert_queue
from alerts.services import AlertActionError, alert_acknowledge, alert_snooze
from alerts.services.core import AlertNews, raise_or_escalate
from rota.models import Notification
from rota.services import ladder_advance, owner_told_worse
from tests.factories import DeviceFactory
from tests.rota.conftest import high_alert

pytestmark = pytest.mark.django_db


def offline(patient, severity=Severity.HIGH):
    device = DeviceFactory(patient=patient)
    news = AlertNews(kind=AlertKind.DEVICE_OFFLINE, severity=severity, title="Patch offline", device_id=device.pk)
    return raise_or_escalate(patient=patient, news=news, now=timezone.now())[0]


@pytest.mark.parametrize("kind", [AlertKind.NEWS2_RISK, AlertKind.SINGLE_PARAMETER, AlertKind.FALL])
def test_a_clinical_alert_is_never_snoozed(team, kind):
    alert = high_alert(team["ward"], kind=kind)
    with pytest.raises(AlertActionError, match="Clinical alerts are never snoozed"):
        alert_snooze(alert=alert, user=team["operator"], minutes=30, reason="busy")
    alert.refresh_from_db()
    assert alert.snoozed_until is None


def test_a_snoozed_technical_alert_needs_a_reason_sinks_in_the_queue_and_calls_nobody_until_it_ends(team):
    # given a HIGH technical alert and a MEDIUM clinical one
    patient = high_alert(team["ward"]).patient
    technical = offline(patient)
    with pytest.raises(AlertActionError, match="Say why"):
        alert_snooze(alert=technical, user=team["operator"], minutes=60, reason=" ")
    # when snoozed for an hour with a reason
    technical = alert_snooze(alert=technical, user=team["operator"], minutes=60, reason="Charging overnight")
    # then it is last in the queue, its ladder is silent for the hour, and the snooze is recorded
    assert list(alert_queue(team["operator"]))[-1] == technical
    now = timezone.now()
    assert ladder_advance(alert_id=technical.pk, now=now + dt.timedelta(minutes=59)) == 0
    assert ladder_advance(alert_id=technical.pk, now=now + dt.timedelta(minutes=61)) >= 1
    event = technical.events.get(action="snoozed")
    assert event.note == "Charging overnight" and event.data["minutes"] == 60


@pytest.mark.parametrize(("minutes", "ok"), [(4, False), (5, True), (1440, True), (1441, False)])
def test_a_snooze_lasts_five_minutes_to_a_day(team, minutes, ok):
    alert = offline(high_alert(team["ward"]).patient, Severity.MEDIUM)
    if ok:
        assert alert_snooze(alert=alert, user=team["operator"], minutes=minutes, reason="r").snoozed_until
    else:
        with pytest.raises(AlertActionError, match="5 minutes to 24 hours"):
            alert_snooze(alert=alert, user=team["operator"], minutes=minutes, reason="r")


def test_an_acknowledged_alert_that_gets_worse_tells_its_owner_and_nobody_else(team):
    # given a MEDIUM risk alert acknowledged (and so owned) by the nurse
    patient = high_alert(team["ward"]).patient
    news = AlertNews(kind=AlertKind.SINGLE_PARAMETER, severity=Severity.LOW_MEDIUM, title="Pulse scored 3")
    alert = raise_or_escalate(patient=patient, news=news, now=timezone.now())[0]
    alert = alert_acknowledge(alert=alert, user=team["nurse"])
    # when the ladder runs, nobody is told (acknowledged)
    assert ladder_advance(alert_id=alert.pk) == 0
    # when it gets worse and the owner is told
    assert owner_told_worse(alert_id=alert.pk) >= 1
    # then only the nurse heard, about it getting worse
    recipients = set(Notification.objects.filter(alert=alert).values_list("recipient__username", flat=True))
    assert recipients == {"nurse"}
    assert "got worse" in Notification.objects.filter(alert=alert).first().reason


def test_worse_news_on_an_acknowledged_alert_reaches_its_owner_after_commit(
    team,
    eager_tasks,
    django_capture_on_commit_callbacks,
):
    # given a MEDIUM single-parameter alert acknowledged by the nurse
    patient = high_alert(team["ward"]).patient
    news = AlertNews(kind=AlertKind.SINGLE_PARAMETER, severity=Severity.LOW_MEDIUM, title="Pulse scored 3")
    alert = alert_acknowledge(
        alert=raise_or_escalate(patient=patient, news=news, now=timezone.now())[0], user=team["nurse"]
    )
    # when a second parameter scores 3 (worse news escalates it in place), and the change commits
    worse = AlertNews(kind=AlertKind.SINGLE_PARAMETER, severity=Severity.MEDIUM, title="Pulse, SpO2 scored 3")
    with django_capture_on_commit_callbacks(execute=True):
        raise_or_escalate(patient=patient, news=worse, now=timezone.now())
    # then the nurse, its owner, is told; still nobody else
    assert set(Notification.objects.filter(alert=alert).values_list("recipient__username", flat=True)) == {"nurse"}


def test_the_api_snoozes_a_technical_alert_and_refuses_a_clinical_one_with_the_reason(team):
    clinical = high_alert(team["ward"])
    technical = offline(clinical.patient, Severity.MEDIUM)
    api = APIClient()
    api.force_authenticate(team["operator"])
    done = api.post(f"/api/v1/alerts/{technical.pk}/snooze/", {"minutes": 30, "reason": "Charging"}, format="json")
    refused = api.post(f"/api/v1/alerts/{clinical.pk}/snooze/", {"minutes": 30, "reason": "x"}, format="json")
    assert done.status_code == 200 and done.json()["snooze_reason"] == "Charging"
    assert refused.status_code == 400 and "never snoozed" in refused.json()["detail"]
