"""Every alert's record: a timeline of who did what and when, with the values, through the API;
and NICE HTE13's figures per alert type in the outcome summary."""

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from alerts.models import AlertKind, Severity
from alerts.reports import alert_summary, patient_days
from alerts.services import alert_acknowledge, alert_add_note, alert_assign, alert_resolve
from alerts.services.core import AlertNews, raise_or_escalate
from patients.models import Patient
from tests.factories import UserFactory
from tests.frontend.conftest import make_score
from tests.scoring_services.builders import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return UserFactory(role=Role.OPERATOR, first_name="Olu", last_name="Operator")


def _risk(patient, total, risk, severity, at):
    news = AlertNews(kind=AlertKind.NEWS2_RISK, severity=severity, title="t", data={"total": total, "risk": risk})
    return raise_or_escalate(patient=patient, news=news, now=at)[0]


def test_the_api_timeline_tells_raised_worsened_acknowledged_assigned_noted_and_resolved_in_order(operator):
    # given an alert raised at medium (5), worsened in place to high (8), then handled by two people
    patient = PatientFactory()
    start = timezone.now() - dt.timedelta(minutes=30)
    alert = _risk(patient, 5, "medium", Severity.MEDIUM, start)
    _risk(patient, 8, "high", Severity.HIGH, start + dt.timedelta(minutes=5))
    colleague = UserFactory(role=Role.OPERATOR, first_name="Ade", last_name="Colleague")
    alert_acknowledge(alert=alert, user=operator)
    alert_assign(alert=alert, user=operator, assignee=colleague)
    alert_add_note(alert=alert, user=colleague, note="Video call booked")
    make_score(patient, total=2, risk="low")
    alert_resolve(alert=alert, user=colleague, outcome="video_review")
    api = APIClient()
    api.force_authenticate(operator)
    # when the alert is read
    timeline = api.get(f"/api/v1/alerts/{alert.pk}/").json()["timeline"]
    # then each step is there, in order, with who and what
    assert [e["action"] for e in timeline] == ["raised", "escalated", "acknowledged", "assigned", "note", "resolved"]
    assert [e["actor"] for e in timeline] == [
        "System",
        "System",
        "Olu Operator",
        "Olu Operator",
        "Ade Colleague",
        "Ade Colleague",
    ]
    assert timeline[0]["what"] == "for NEWS2 5 (medium)"
    assert timeline[1]["what"] == "Medium → High, worsened to NEWS2 8 (high)"
    assert timeline[2]["what"] == "took ownership"
    assert timeline[3]["what"] == "to Ade Colleague"
    assert timeline[4]["note"] == "Video call booked"
    assert timeline[5]["what"] == "Outcome: Video review"
    assert all(e["at"] for e in timeline)


def test_patient_days_count_only_the_part_of_each_stay_inside_the_period():
    # given a period of two days, a patient there throughout, one admitted halfway, one discharged before it
    until = timezone.now()
    since = until - dt.timedelta(days=2)
    PatientFactory(admitted_at=since - dt.timedelta(days=5))
    PatientFactory(admitted_at=since + dt.timedelta(days=1))
    PatientFactory(admitted_at=since - dt.timedelta(days=5), discharged_at=since - dt.timedelta(days=1))
    # when counted / then 2 + 1 + 0 days
    assert patient_days(Patient.objects.all(), since, until) == pytest.approx(3.0)


def test_the_summary_reports_per_type_rate_per_patient_day_and_the_shares_that_changed_management_or_were_noise(
    operator,
):
    # given four patients over a day, and four falls: ambulance, medication change, false alarm, no action
    until = timezone.now()
    since = until - dt.timedelta(days=1)
    patients = [PatientFactory(admitted_at=since - dt.timedelta(days=3)) for _ in range(4)]
    outcomes = ["ambulance", "medication_change", "false_alarm", "no_action"]
    for patient, outcome in zip(patients, outcomes, strict=True):
        news = AlertNews(kind=AlertKind.FALL, severity=Severity.HIGH, title="Fall")
        alert = raise_or_escalate(patient=patient, news=news, now=until - dt.timedelta(hours=2))[0]
        alert_resolve(alert=alert, user=operator, outcome=outcome)
    # when summarised
    report = alert_summary(user=operator, since=since, until=until)
    falls = report["by_kind"]["fall"]
    # then 4 falls over 4 patient-days is 1 per patient-day; half changed management, half were noise
    assert report["patient_days"] == pytest.approx(4.0)
    assert falls["per_patient_day"] == pytest.approx(1.0)
    assert (falls["with_outcome"], falls["changed_management_share"], falls["non_actionable_share"]) == (4, 0.5, 0.5)
    # and a kind with no alerts reports no shares rather than 0 %
    assert report["by_kind"]["low_battery"]["changed_management_share"] is None


def test_a_plan_in_place_counts_neither_as_a_change_nor_as_noise(operator):
    until = timezone.now()
    patient = PatientFactory(admitted_at=until - dt.timedelta(days=3))
    news = AlertNews(kind=AlertKind.FALL, severity=Severity.HIGH, title="Fall")
    alert = raise_or_escalate(patient=patient, news=news, now=until - dt.timedelta(hours=1))[0]
    alert_resolve(alert=alert, user=operator, outcome="reviewed_plan_in_place")
    falls = alert_summary(user=operator, since=until - dt.timedelta(days=1), until=until)["by_kind"]["fall"]
    assert (falls["changed_management_share"], falls["non_actionable_share"]) == (0.0, 0.0)


def test_the_summary_page_shows_the_hte13_figures(client, operator):
    # given a fall resolved as a false alarm
    until = timezone.now()
    patient = PatientFactory(admitted_at=until - dt.timedelta(days=3))
    alert = raise_or_escalate(
        patient=patient, news=AlertNews(kind=AlertKind.FALL, severity=Severity.HIGH, title="Fall"), now=until
    )[0]
    alert_resolve(alert=alert, user=operator, outcome="false_alarm")
    client.force_login(operator)
    # when the outcome page is opened / then the fall row says 100 % non-actionable
    html = client.get("/triage/summary/", {"period": "24h"}).content.decode()
    row = html.split('data-kind="fall"')[1].split("</tr>")[0]
    assert "100 %" in row and "False alarm / artefact: 1" in row
    assert "patient-days" in html and "NICE HTE13" in html
