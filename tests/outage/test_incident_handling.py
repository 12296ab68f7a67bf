"""An outage incident is acknowledged and owned like an alert, climbs its own ladder, and its dropouts inherit."""

import datetime as dt

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone

from accounts.models import AuditEvent, Role
from alerts.models import Alert, AlertEvent, AlertKind, ConnectivityIncident, IncidentMember
from alerts.services import AlertPermissionError, AlertStateError, incident_acknowledge, incident_assign
from devices.connectivity import sweep_connectivity
from rota.models import DutyRole, EscalationStep, LadderRung, Notification, Track
from rota.services import incident_ladder_advance, ladder_advance, sweep_ladders
from tests.factories import UserFactory, WardFactory
from tests.outage.builders import heard, hub_fleet
from tests.rota.conftest import on_shift, person

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _settings():
    with override_settings(VW_DEVICE_GRACE_SECONDS=60, EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        yield


@pytest.fixture
def crew(db):
    ward = WardFactory(name="Respiratory Virtual Ward")
    operator = person("operator", "Olu", "Adeyemi", Role.OPERATOR)
    senior = person("senior", "Sam", "Okafor", Role.OPERATOR)
    nurse = person("nurse", "Nia", "Hughes")
    ward.staff.add(nurse)
    on_shift(operator, DutyRole.COMMAND_CENTRE_OPERATOR)
    on_shift(senior, DutyRole.COMMAND_CENTRE_SENIOR)
    on_shift(nurse, DutyRole.WARD_CLINICIAN, ward)
    return {"ward": ward, "operator": operator, "senior": senior, "nurse": nurse}


def _outage(ward, count=8):
    now = timezone.now()
    lost = hub_fleet(ward, count, operator="23415")
    heard(lost, now - dt.timedelta(minutes=5))
    sweep_connectivity(now=now)
    return ConnectivityIncident.objects.get(), now


def _folded(incident):
    return Alert.objects.filter(pk__in=IncidentMember.objects.filter(incident=incident).values("alert_id"))


def test_an_incident_climbs_the_technical_ladder_at_once_and_its_folded_dropouts_call_nobody(
    crew, eager_tasks, django_capture_on_commit_callbacks
):
    # given an outage of eight hubs (the sweep runs the incident's first rung after commit)
    with django_capture_on_commit_callbacks(execute=True):
        incident, now = _outage(crew["ward"])
    # then the command-centre operator is told once, about the incident, with no patient in it
    sent = Notification.objects.filter(incident=incident)
    assert {(n.recipient.username, n.channel) for n in sent} == {("operator", "email"), ("operator", "push")}
    assert [m.to for m in mail.outbox] == [["operator@nhs.test"]]
    assert "8 devices" in mail.outbox[0].body and "#incident-" in mail.outbox[0].body
    assert "Patient" not in mail.outbox[0].body
    # and none of the eight folded 'device offline' alerts climbs a ladder of its own
    assert Notification.objects.filter(alert__isnull=False).count() == 0
    assert sweep_ladders(now=now + dt.timedelta(minutes=1)) == 0
    assert all(ladder_advance(alert_id=a.pk, now=now) == 0 for a in _folded(incident))


@pytest.mark.parametrize(("minutes", "senior_told"), [(59, False), (60, True)])
def test_unacknowledged_the_incident_reaches_the_senior_at_the_ladders_next_step(crew, minutes, senior_told):
    incident, _ = _outage(crew["ward"])
    incident_ladder_advance(incident_id=incident.pk, now=incident.opened_at)
    incident_ladder_advance(incident_id=incident.pk, now=incident.opened_at + dt.timedelta(minutes=minutes))
    told = set(Notification.objects.filter(incident=incident).values_list("recipient__username", flat=True))
    assert told == ({"operator", "senior"} if senior_told else {"operator"})


def test_acknowledging_stops_the_ladder_and_every_folded_dropout_inherits(crew):
    incident, _ = _outage(crew["ward"])
    incident_ladder_advance(incident_id=incident.pk, now=incident.opened_at)
    # when the operator acknowledges the incident
    incident = incident_acknowledge(incident=incident, user=crew["operator"])
    # then it is acknowledged and owned by them
    assert (incident.acknowledged_by, incident.assigned_to) == (crew["operator"], crew["operator"])
    # and so is each folded dropout, with an event saying why
    for alert in _folded(incident):
        assert (alert.state, alert.acknowledged_by_id, alert.assigned_to_id) == ("acknowledged",) + (
            crew["operator"].pk,
        ) * 2
        event = alert.events.get(action=AlertEvent.Action.ACKNOWLEDGED)
        assert event.data["incident_id"] == incident.pk and "connectivity incident" in event.note
    # and the ladder's next step never fires
    assert incident_ladder_advance(incident_id=incident.pk, now=incident.opened_at + dt.timedelta(hours=2)) == 0
    assert not LadderRung.objects.filter(incident=incident, role=DutyRole.COMMAND_CENTRE_SENIOR).exists()
    # and it is audited
    # and it is audited against each of its eight patients
    audits = AuditEvent.objects.filter(action="incident.acknowledged", actor=crew["operator"])
    assert audits.values("patient").distinct().count() == 8
    assert {a.detail["alerts"] for a in audits} == {8}


def test_a_second_acknowledgement_is_refused_with_who_got_there_first(crew):
    incident, _ = _outage(crew["ward"])
    incident_acknowledge(incident=incident, user=crew["operator"])
    with pytest.raises(AlertStateError, match="already acknowledged by Olu Adeyemi"):
        incident_acknowledge(incident=incident, user=crew["senior"])


def test_assigning_moves_the_incident_and_its_folded_dropouts_to_the_new_owner(crew):
    incident, _ = _outage(crew["ward"])
    incident_assign(incident=incident, user=crew["operator"], assignee=crew["senior"])
    assert ConnectivityIncident.objects.get().assigned_to == crew["senior"]
    assert set(_folded(incident).values_list("assigned_to", flat=True)) == {crew["senior"].pk}
    assert AuditEvent.objects.filter(action="incident.assigned", actor=crew["operator"]).count() == 8
    # the ladder keeps climbing: assigning is not acknowledging
    assert ConnectivityIncident.objects.get().acknowledged_at is None


def test_a_clinician_of_only_one_of_its_wards_may_not_act_on_or_be_given_the_incident(crew):
    other = WardFactory(name="Heart Failure Virtual Ward")
    now = timezone.now()
    lost = hub_fleet(crew["ward"], 4, operator="23415") + hub_fleet(other, 4, operator="23415")
    heard(lost, now - dt.timedelta(minutes=5))
    sweep_connectivity(now=now)
    incident = ConnectivityIncident.objects.get()
    with pytest.raises(AlertPermissionError, match="spans wards"):
        incident_acknowledge(incident=incident, user=crew["nurse"])
    with pytest.raises(AlertPermissionError):
        incident_assign(incident=incident, user=crew["nurse"], assignee=crew["nurse"])
    from alerts.services import AlertActionError

    with pytest.raises(AlertActionError, match="cannot be assigned"):
        incident_assign(incident=incident, user=crew["operator"], assignee=crew["nurse"])


def test_a_dropout_folded_after_the_acknowledgement_inherits_it_at_once(crew):
    incident, now = _outage(crew["ward"])
    incident_acknowledge(incident=incident, user=crew["operator"])
    late = hub_fleet(crew["ward"], 1, operator="23415")
    heard(late, now - dt.timedelta(minutes=4))
    sweep_connectivity(now=now + dt.timedelta(seconds=30))
    alert = Alert.objects.get(device=late[0], kind=AlertKind.DEVICE_OFFLINE)
    assert IncidentMember.objects.filter(incident=incident, device=late[0]).exists()
    assert (alert.state, alert.assigned_to) == ("acknowledged", crew["operator"])


def test_a_wards_own_technical_steps_set_the_incidents_ladder(crew):
    EscalationStep.objects.create(ward=crew["ward"], track=Track.TECHNICAL, after_seconds=0,
                                  role=DutyRole.WARD_CLINICIAN, channels=["email"])  # fmt: skip
    incident, _ = _outage(crew["ward"])
    incident_ladder_advance(incident_id=incident.pk, now=incident.opened_at)
    told = set(Notification.objects.filter(incident=incident).values_list("recipient__username", "channel"))
    assert told == {("nurse", "email")}


def test_the_api_acknowledges_and_assigns_an_incident_and_says_why_when_it_refuses(crew, client):
    incident, _ = _outage(crew["ward"])
    client.force_login(crew["operator"])
    listed = client.get("/api/v1/incidents/").json()["results"]
    assert [i["id"] for i in listed] == [incident.pk] and len(listed[0]["members"]) == 8
    assert AuditEvent.objects.filter(action="incident.listed", actor=crew["operator"]).count() == 8
    done = client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert done.status_code == 200 and done.json()["acknowledged_by"] == "Olu Adeyemi"
    again = client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert again.status_code == 409 and "already acknowledged" in again.json()["detail"]
    moved = client.post(f"/api/v1/incidents/{incident.pk}/assign/", {"assignee": crew["senior"].pk})
    assert moved.status_code == 200 and moved.json()["assigned_to"] == "Sam Okafor"
    # a clinician with no patient in it does not see it at all
    stranger = UserFactory(username="elsewhere", role=Role.CLINICIAN)
    stranger_ward = WardFactory(name="Frailty Virtual Ward")
    stranger_ward.staff.add(stranger)
    client.force_login(stranger)
    assert client.post(f"/api/v1/incidents/{incident.pk}/acknowledge/").status_code == 404
    assert client.get("/api/v1/incidents/").json()["results"] == []


def test_the_triage_screen_acknowledges_an_incident_and_shows_a_refusal_inline(crew, client):
    incident, _ = _outage(crew["ward"])
    client.force_login(crew["operator"])
    url = f"/triage/incidents/{incident.pk}/acknowledge/"
    ok = client.post(url, HTTP_ACCEPT="application/json")
    assert ok.status_code == 200 and ok.json()["incident"]["acknowledged_by"] == "Olu Adeyemi"
    refused = client.post(url, HTTP_ACCEPT="application/json")
    assert refused.status_code == 400 and "already acknowledged" in refused.json()["error"]
    page = client.get("/triage/").content.decode()
    assert "Acknowledged by Olu Adeyemi" in page and "Acknowledge incident" not in page


def test_the_notifications_page_lists_an_incidents_messages_beside_the_alerts(crew, client):
    incident, _ = _outage(crew["ward"])
    incident_ladder_advance(incident_id=incident.pk, now=incident.opened_at)
    client.force_login(crew["operator"])
    page = client.get("/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"#incident-{incident.pk}" in html and "Connectivity incident · mobile network 23415" in html


def test_a_straggler_of_an_unacknowledged_incident_climbs_its_own_ladder_once_released(crew):
    # given ten hubs silent together, folded, and an incident nobody acknowledged
    now = timezone.now()
    lost = hub_fleet(crew["ward"], 10, operator="23415")
    heard(lost, now - dt.timedelta(minutes=5))
    sweep_connectivity(now=now)
    straggler = lost[-1]
    alert = Alert.objects.get(device=straggler, kind=AlertKind.DEVICE_OFFLINE)
    assert ladder_advance(alert_id=alert.pk, now=now) == 0  # folded: its incident calls for it
    # when nine come back and keep reporting, and the incident closes without the tenth
    heard(lost[:9], now + dt.timedelta(seconds=30))
    heard(lost[:9], now + dt.timedelta(minutes=2))
    sweep_connectivity(now=now + dt.timedelta(minutes=3))
    assert ConnectivityIncident.objects.get().state == "closed"
    # then the straggler's own technical ladder calls the operator
    assert ladder_advance(alert_id=alert.pk, now=now + dt.timedelta(minutes=3)) == 1
    assert set(Notification.objects.filter(alert=alert).values_list("recipient__username", flat=True)) == {"operator"}


def test_a_device_back_and_silent_again_before_the_next_sweep_rejoins_the_incident(crew):
    # given ten hubs folded into an incident
    now = timezone.now()
    lost = hub_fleet(crew["ward"], 10, operator="23415")
    heard(lost, now - dt.timedelta(minutes=5))
    sweep_connectivity(now=now)
    incident = ConnectivityIncident.objects.get()
    # when one reports once and falls silent again before any sweep has noted its return
    heard(lost[:1], now + dt.timedelta(seconds=5))
    sweep_connectivity(now=now + dt.timedelta(minutes=3))
    # then the sweep does not fail: the device is in the incident once, with its new gap
    member = IncidentMember.objects.get(incident=incident, device=lost[0])
    assert member.gap.started_at == now + dt.timedelta(seconds=5) and member.gap.ended_at is None
