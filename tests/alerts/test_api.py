import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuditEvent, Role
from alerts.models import AlertKind, Severity
from alerts.services.core import AlertNews, raise_or_escalate
from tests.factories import UserFactory
from tests.frontend.conftest import make_score
from tests.scoring_services.builders import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return UserFactory(role=Role.OPERATOR)


@pytest.fixture
def api(operator):
    client = APIClient()
    client.force_authenticate(operator)
    return client


def _alert(kind=AlertKind.NEWS2_RISK, severity=Severity.MEDIUM, patient=None, minutes_ago=0):
    at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    news = AlertNews(kind=kind, severity=severity, title=str(kind))
    patient = patient or PatientFactory()
    make_score(patient, total=0, risk="low")  # back to low: resolving needs no review
    return raise_or_escalate(patient=patient, news=news, now=at)[0]


def test_the_list_is_the_queue_most_urgent_first(api):
    # given a medium and a high alert
    medium = _alert(severity=Severity.MEDIUM, minutes_ago=10)
    high = _alert(kind=AlertKind.FALL, severity=Severity.HIGH)
    # when listed / then high first, in the shared alert shape
    body = api.get("/api/v1/alerts/").json()
    assert [a["id"] for a in body["results"]] == [high.pk, medium.pk]
    assert body["results"][0]["reason"] == "deteriorating"


def test_the_list_filters_by_state_kind_and_ward_and_rejects_nonsense(api):
    # given alerts on two wards
    fall = _alert(kind=AlertKind.FALL, severity=Severity.HIGH)
    _alert()
    # when filtered / then only matches come back
    by_kind = api.get("/api/v1/alerts/", {"kind": "fall"}).json()["results"]
    by_ward = api.get("/api/v1/alerts/", {"ward": fall.patient.ward_id}).json()["results"]
    assert [a["id"] for a in by_kind] == [fall.pk] and [a["id"] for a in by_ward] == [fall.pk]
    assert api.get("/api/v1/alerts/", {"state": "resolved"}).json()["results"] == []
    assert api.get("/api/v1/alerts/", {"kind": "meteor"}).status_code == 400


def test_the_detail_includes_the_history(api):
    # given an alert / when fetched / then its events come with it
    alert = _alert()
    body = api.get(f"/api/v1/alerts/{alert.pk}/").json()
    assert body["id"] == alert.pk and [e["action"] for e in body["events"]] == ["raised"]


def test_a_clinician_gets_404_for_another_wards_alert():
    # given a clinician of no ward / when fetching an alert / then it does not exist for them
    alert = _alert()
    client = APIClient()
    client.force_authenticate(UserFactory(role=Role.CLINICIAN))
    assert client.get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    assert client.post(f"/api/v1/alerts/{alert.pk}/acknowledge/").status_code == 404


def test_acknowledge_then_resolve_through_the_api(api, operator):
    # given an alert
    alert = _alert()
    # when acknowledged and resolved
    ack = api.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    done = api.post(f"/api/v1/alerts/{alert.pk}/resolve/", {"outcome": "video_review", "note": "Seen"}, format="json")
    # then the alert is resolved by the operator, with the audit trail
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["outcome"]) == ("resolved", "video_review")
    assert done.json()["resolved_by"]["id"] == operator.pk
    assert AuditEvent.objects.filter(object_id=str(alert.pk)).count() == 2


def test_an_action_that_does_not_fit_the_state_is_409_with_the_reason(api):
    # given an acknowledged alert / when acknowledged again / then 409 saying so
    alert = _alert()
    api.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    again = api.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")
    assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]


def test_bad_action_input_is_400(api):
    # given an alert / when resolving as auto_resolved, or noting nothing, or assigning nobody / then 400
    alert = _alert()
    assert (
        api.post(f"/api/v1/alerts/{alert.pk}/resolve/", {"outcome": "auto_resolved"}, format="json").status_code == 400
    )
    assert api.post(f"/api/v1/alerts/{alert.pk}/note/", {"note": ""}, format="json").status_code == 400
    assert api.post(f"/api/v1/alerts/{alert.pk}/assign/", {"assignee": 999999}, format="json").status_code == 400


def test_assign_note_and_escalate_through_the_api(api):
    # given an alert and a clinician of its ward
    alert = _alert()
    clinician = UserFactory(role=Role.CLINICIAN)
    alert.patient.ward.staff.add(clinician)
    # when assigned, noted and escalated
    assigned = api.post(f"/api/v1/alerts/{alert.pk}/assign/", {"assignee": clinician.pk}, format="json")
    noted = api.post(f"/api/v1/alerts/{alert.pk}/note/", {"note": "Called"}, format="json")
    escalated = api.post(f"/api/v1/alerts/{alert.pk}/escalate/", {}, format="json")
    # then each took effect
    assert assigned.json()["assigned_to"]["id"] == clinician.pk
    assert noted.json()["events"][-1]["note"] == "Called"
    assert escalated.json()["severity"] == Severity.HIGH


def test_anonymous_users_cannot_read_alerts():
    assert APIClient().get("/api/v1/alerts/").status_code in (401, 403)
