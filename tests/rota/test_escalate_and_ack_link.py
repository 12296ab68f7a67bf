"""Escalate names a person or role on duty and tells them; the acknowledge link in a message
acknowledges that alert as that person, after a button press, and nothing else."""

import time

import pytest
from django.core import signing
from rest_framework.test import APIClient

from alerts.models import AlertState, Severity
from alerts.services import AlertActionError, alert_escalate
from rota.links import ack_token
from rota.models import Notification, Shift
from rota.services import alert_escalate_to
from tests.rota.conftest import high_alert, person

pytestmark = pytest.mark.django_db


def test_escalating_to_the_on_call_doctor_by_name_makes_them_the_owner_and_tells_them(team):
    # given a HIGH alert
    alert = high_alert(team["ward"])
    # when the senior escalates it to the on-call doctor by name
    alert = alert_escalate_to(alert=alert, user=team["senior"], to=f"person:{team['doctor'].pk}", note="Please call")
    # then the doctor owns it, the record says to whom, and they are messaged on every channel they have
    assert alert.assigned_to == team["doctor"]
    event = alert.events.get(action="escalated")
    assert event.actor == team["senior"] and event.data["recipient"] == "Dev Rao (on-call doctor)"
    assert event.note == "Please call"
    channels = set(Notification.objects.filter(alert=alert, recipient=team["doctor"]).values_list("channel", "state"))
    assert ("email", "queued") in channels and ("sms", "not_sent") in channels  # no Notify in this test
    assert "escalated to you by Sam Okafor" in Notification.objects.filter(alert=alert).first().reason


def test_escalating_to_a_role_picks_who_is_on_duty_in_it(team):
    alert = alert_escalate_to(alert=high_alert(team["ward"]), user=team["nurse"], to="role:on_call_doctor")
    assert alert.assigned_to == team["doctor"]


def test_escalating_to_someone_not_on_duty_is_refused_with_the_reason(team):
    off_duty = person("offduty", "Odi", "Off")
    team["ward"].staff.add(off_duty)
    with pytest.raises(AlertActionError, match="not on duty for this ward now"):
        alert_escalate_to(alert=high_alert(team["ward"]), user=team["nurse"], to=f"person:{off_duty.pk}")


def test_escalating_to_a_role_nobody_holds_now_is_refused_with_the_reason(team):
    Shift.objects.filter(role="on_call_doctor").delete()
    with pytest.raises(AlertActionError, match="Nobody is on duty as on-call doctor"):
        alert_escalate_to(alert=high_alert(team["ward"]), user=team["nurse"], to="role:on_call_doctor")
    assert not Notification.objects.exists()


def test_escalating_a_high_alert_without_a_person_is_refused_and_says_what_to_do_instead(team):
    alert = high_alert(team["ward"])
    assert alert.severity == Severity.HIGH
    with pytest.raises(AlertActionError, match="escalate it to a person on duty instead"):
        alert_escalate(alert=alert, user=team["nurse"])


def test_the_acknowledge_link_shows_a_button_and_the_press_acknowledges_as_the_recipient(client, team):
    # given a link sent to the on-call doctor
    alert = high_alert(team["ward"])
    url = f"/ack/{ack_token(alert_id=alert.pk, person_id=team['doctor'].pk)}/"
    # when opened (no sign-in) / then a page with one button, showing no patient identity; nothing acknowledged yet
    page = client.get(url)
    html = page.content.decode()
    assert page.status_code == 200 and "Acknowledge as Dev Rao" in html
    assert alert.patient.nhs_number not in html and "Breathless" not in html
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN
    # when the button is pressed / then acknowledged by the doctor, who owns it
    done = client.post(url)
    alert.refresh_from_db()
    assert done.status_code == 200 and "Acknowledged by Dev Rao" in done.content.decode()
    assert (alert.state, alert.acknowledged_by, alert.assigned_to) == ("acknowledged", team["doctor"], team["doctor"])


def test_a_tampered_or_reused_acknowledge_link_says_why(client, team):
    alert = high_alert(team["ward"])
    token = ack_token(alert_id=alert.pk, person_id=team["doctor"].pk)
    assert "not valid" in client.get(f"/ack/{token[:-2]}xx/").content.decode()
    client.post(f"/ack/{token}/")
    again = client.post(f"/ack/{token}/")
    assert again.status_code == 409 and "already acknowledged by Dev Rao" in again.content.decode()


def test_an_expired_acknowledge_link_is_refused(client, team, settings):
    settings.VW_ACK_LINK_HOURS = 0
    alert = high_alert(team["ward"])
    token = signing.dumps({"a": alert.pk, "p": team["doctor"].pk}, salt="vw.rota.acknowledge-link", compress=True)
    time.sleep(1.1)
    response = client.get(f"/ack/{token}/")
    assert response.status_code == 400 and "expired" in response.content.decode()


def test_the_rota_api_lists_who_is_on_duty_and_the_command_centre_adds_shifts(team):
    api = APIClient()
    api.force_authenticate(team["senior"])
    on_duty = api.get("/api/v1/rota/shifts/", {"ward": team["ward"].pk}).json()["results"]
    assert {(s["person"]["name"], s["role"]) for s in on_duty} >= {
        ("Nia Hughes", "ward_clinician"),
        ("Dev Rao", "on_call_doctor"),
    }
    created = api.post(
        "/api/v1/rota/shifts/",
        {
            "person": team["nurse"].pk,
            "role": "ward_clinician",
            "ward": team["ward"].pk,
            "starts_at": "2030-01-01T08:00:00Z",
            "ends_at": "2030-01-01T20:00:00Z",
        },
        format="json",
    )
    assert created.status_code == 201
    backwards = api.post(
        "/api/v1/rota/shifts/",
        {
            "person": team["nurse"].pk,
            "role": "ward_clinician",
            "ward": team["ward"].pk,
            "starts_at": "2030-01-01T20:00:00Z",
            "ends_at": "2030-01-01T08:00:00Z",
        },
        format="json",
    )
    assert backwards.status_code == 400 and "end after it starts" in backwards.json()["detail"]
    nurse_api = APIClient()
    nurse_api.force_authenticate(team["nurse"])
    refused = nurse_api.post(
        "/api/v1/rota/shifts/",
        {
            "person": team["nurse"].pk,
            "role": "ward_clinician",
            "ward": team["ward"].pk,
            "starts_at": "2030-01-02T08:00:00Z",
            "ends_at": "2030-01-02T20:00:00Z",
        },
        format="json",
    )
    assert refused.status_code == 403


def test_the_notifications_page_lists_what_was_sent(client, team):
    alert_escalate_to(alert=high_alert(team["ward"]), user=team["senior"], to="role:on_call_doctor")
    client.force_login(team["senior"])
    html = client.get("/notifications/").content.decode()
    assert "Dev Rao" in html and "E-mail" in html and "escalated to you by Sam Okafor" in html


def test_the_api_escalates_to_a_person_on_duty_and_refuses_one_who_is_not(team):
    alert = high_alert(team["ward"])
    api = APIClient()
    api.force_authenticate(team["senior"])
    done = api.post(f"/api/v1/alerts/{alert.pk}/escalate/", {"to": f"person:{team['doctor'].pk}"}, format="json")
    assert done.status_code == 200 and done.json()["owner"]["name"] == "Dev Rao"
    assert any(e["action"] == "escalated" and "Dev Rao" in e["what"] for e in done.json()["timeline"])
    stranger = person("stranger", "Sol", "Elsewhere")
    refused = api.post(f"/api/v1/alerts/{alert.pk}/escalate/", {"to": f"person:{stranger.pk}"}, format="json")
    assert refused.status_code == 400 and "not on duty" in refused.json()["detail"]
