"""Alerts tell the truth now: what they were raised for beside the patient's state at this moment,
who owns them, how long they have waited, and a queue that puts unowned urgent work first."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from alerts import present
from alerts.models import AlertKind, AlertState, Severity
from alerts.selectors import alert_queue
from alerts.services import alert_acknowledge, alert_assign
from alerts.services.core import AlertNews, raise_or_escalate
from tests.factories import DeviceFactory, UserFactory
from tests.frontend.conftest import make_score
from tests.scoring_services.builders import PatientFactory

pytestmark = pytest.mark.django_db


def raise_risk(patient, *, total, risk, severity, minutes_ago=0):
    news = AlertNews(
        kind=AlertKind.NEWS2_RISK,
        severity=severity,
        title=f"NEWS2 {total} at 10:00: {risk} risk",
        data={"total": total, "risk": risk},
    )
    return raise_or_escalate(patient=patient, news=news, now=timezone.now() - dt.timedelta(minutes=minutes_ago))[0]


def raise_kind(patient, kind, severity, minutes_ago=0, device=None):
    news = AlertNews(kind=kind, severity=severity, title=str(kind), device_id=device.pk if device else None)
    return raise_or_escalate(patient=patient, news=news, now=timezone.now() - dt.timedelta(minutes=minutes_ago))[0]


@pytest.fixture
def operator():
    return UserFactory(role=Role.OPERATOR, first_name="Olu", last_name="Operator")


def test_an_alert_raised_at_7_on_a_patient_now_at_15_shows_15_as_now_and_7_only_as_when_raised(operator):
    # given a high alert raised at NEWS2 7, and the patient now at 15
    patient = PatientFactory()
    alert = raise_risk(patient, total=7, risk="high", severity=Severity.HIGH)
    make_score(patient, total=15, risk="high")
    # when the API shapes it
    api = APIClient()
    api.force_authenticate(operator)
    body = api.get(f"/api/v1/alerts/{alert.pk}/").json()
    # then "now" is 15, the change since raised is +8, and 7 appears only as "when raised"
    assert body["now"]["total"] == 15 and body["now"]["change_since_raised"] == 8 and body["now"]["trend"] == "up"
    assert "NEWS2 now 15 HIGH" in body["headline"] and "raised at 7" in body["headline"]
    assert not body["headline"].startswith("NEWS2 7")
    assert body["raised_for"] == "NEWS2 7 (high risk) when raised"
    assert body["now"]["drivers"] and all(d["score"] > 0 for d in body["now"]["drivers"])


def test_an_open_alert_on_a_patient_now_at_low_says_so_rather_than_high():
    # given a high alert on a patient whose score has since fallen to 1 (low)
    patient = PatientFactory()
    alert = raise_risk(patient, total=7, risk="high", severity=Severity.HIGH)
    score = make_score(patient, total=1, risk="low")
    # when shown / then the card says low now and that it is out of the alert's band
    now = present.patient_now(alert, score)
    assert (now["total"], now["risk"], now["trend"], now["in_band"]) == (1, "low", "down", False)
    assert "NEWS2 now 1 LOW" in present.headline(alert, score)


def test_technical_alerts_are_worded_as_technical_not_as_a_risk():
    # given a device offline alert / when headlined / then it says technical
    device = DeviceFactory()
    alert = raise_kind(device.patient, AlertKind.DEVICE_OFFLINE, Severity.MEDIUM, device=device)
    assert present.headline(alert).startswith("Technical: ")
    assert present.patient_now(alert, None) is None


def test_an_open_alert_has_waited_since_it_was_raised_and_an_acknowledged_one_no_longer_waits(operator):
    # given an alert raised 12 minutes ago
    alert = raise_kind(PatientFactory(), AlertKind.FALL, Severity.HIGH, minutes_ago=12)
    # then it has waited about 12 minutes; once acknowledged it waits no more
    assert 11 * 60 < present.waiting_seconds(alert, timezone.now()) < 13 * 60
    alert = alert_acknowledge(alert=alert, user=operator)
    assert present.waiting_seconds(alert, timezone.now()) is None


def test_acknowledging_an_alert_nobody_owns_makes_the_acknowledger_its_owner(operator):
    # given an unowned alert / when acknowledged / then the acknowledger owns it, recorded
    alert = alert_acknowledge(alert=raise_kind(PatientFactory(), AlertKind.FALL, Severity.HIGH), user=operator)
    assert alert.assigned_to == operator
    assert alert.events.get(action="acknowledged").data["took_ownership"] is True


def test_acknowledging_an_owned_alert_leaves_its_owner_in_place(operator):
    # given an alert assigned to a colleague
    colleague = UserFactory(role=Role.OPERATOR)
    alert = raise_kind(PatientFactory(), AlertKind.FALL, Severity.HIGH)
    alert = alert_assign(alert=alert, user=operator, assignee=colleague)
    # when the operator acknowledges it / then the colleague still owns it
    alert = alert_acknowledge(alert=alert, user=operator)
    assert alert.assigned_to == colleague


def test_the_queue_puts_the_most_urgent_unowned_work_first(operator):
    # given, at HIGH: an owned old alert, an unowned new technical one and an unowned new clinical one;
    # and an unowned MEDIUM alert waiting longest of all
    p1, p2, p3, p4 = PatientFactory(), PatientFactory(), PatientFactory(), PatientFactory()
    owned_high = raise_kind(p1, AlertKind.FALL, Severity.HIGH, minutes_ago=30)
    alert_assign(alert=owned_high, user=operator, assignee=operator)
    device = DeviceFactory(patient=p2)
    technical_high = raise_kind(p2, AlertKind.DEVICE_OFFLINE, Severity.HIGH, minutes_ago=5, device=device)
    clinical_high = raise_kind(p3, AlertKind.FALL, Severity.HIGH, minutes_ago=1)
    medium = raise_kind(p4, AlertKind.NEWS2_RISK, Severity.MEDIUM, minutes_ago=60)
    # when the queue is read
    queue = list(alert_queue(operator))
    # then: unowned clinical HIGH, unowned technical HIGH, owned HIGH, then the MEDIUM
    assert queue == [clinical_high, technical_high, owned_high, medium]


def test_within_unowned_alerts_of_one_severity_the_unacknowledged_and_longest_waiting_come_first(operator):
    # given three unowned MEDIUM alerts, the oldest acknowledged by someone who then handed it back
    a, b, c = PatientFactory(), PatientFactory(), PatientFactory()
    oldest = raise_kind(a, AlertKind.FALL, Severity.MEDIUM, minutes_ago=30)
    oldest.state = AlertState.ACKNOWLEDGED
    oldest.save()
    older = raise_kind(b, AlertKind.FALL, Severity.MEDIUM, minutes_ago=20)
    newer = raise_kind(c, AlertKind.FALL, Severity.MEDIUM, minutes_ago=10)
    # when read / then unacknowledged first, oldest first among them
    assert list(alert_queue(operator)) == [older, newer, oldest]
