"""A network outage is one incident, not a thousand alerts; a clinical alert is never folded."""

import datetime as dt
import json
import weakref

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Role
from alerts.models import Alert, AlertEvent, AlertKind, ConnectivityIncident, IncidentMember
from alerts.selectors import alert_queue
from devices.connectivity import sweep_connectivity
from devices.ingest import handle_message
from devices.models import ConnectivityGap
from devices.protocol import obs_topic
from tests.factories import DeviceFactory, PatientFactory, UserFactory, WardFactory
from tests.outage.builders import heard, hub_fleet

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("grace")]

LIVE = ("open", "acknowledged")


@pytest.fixture
def grace():
    with override_settings(VW_DEVICE_GRACE_SECONDS=60):
        yield


@pytest.fixture
def operator_user(db):
    return UserFactory(username="cc", role=Role.OPERATOR)


def _outage(ward, *, count=20, risks=None, others=5):
    """``count`` hubs on 23415 silent since five minutes ago; ``others`` on 23420 still reporting."""
    now = timezone.now()
    lost = hub_fleet(ward, count, operator="23415", risks=risks)
    fine = hub_fleet(ward, others, operator="23420")
    heard(lost, now - dt.timedelta(minutes=5))
    heard(fine, now)
    return lost, fine, now


def test_one_operators_outage_raises_one_incident_not_an_alert_per_device(operator_user):
    # given twenty hubs on one mobile network that fell silent together, and five on another
    ward = WardFactory()
    lost, _fine, now = _outage(ward)
    # when the sweep runs
    started = sweep_connectivity(now=now)
    # then every dropout is recorded, each once
    assert started == 20
    assert ConnectivityGap.objects.count() == 20
    assert Alert.objects.filter(kind=AlertKind.DEVICE_OFFLINE).count() == 20
    # and they are one incident for that network
    incident = ConnectivityIncident.objects.get()
    assert (incident.group_kind, incident.group_value, incident.state) == ("operator", "23415", "open")
    assert set(IncidentMember.objects.values_list("device_id", flat=True)) == {d.pk for d in lost}
    # and the command centre's queue shows none of them one by one
    assert not [a for a in alert_queue(operator_user) if a.kind == AlertKind.DEVICE_OFFLINE]


def test_a_lone_dropout_is_still_its_own_alert(operator_user):
    # given one silent hub among reporting ones
    ward = WardFactory()
    lost, _, now = _outage(ward, count=1, others=10)
    # when the sweep runs
    sweep_connectivity(now=now)
    # then no incident, and the dropout is in the queue on its own
    assert not ConnectivityIncident.objects.exists()
    assert [a.device_id for a in alert_queue(operator_user)] == [lost[0].pk]


def test_the_incident_ranks_patients_by_their_risk_when_last_heard_from(operator_user):
    # given an outage whose patients were at every risk when last heard from
    from alerts.incident_selectors import open_incidents
    from patients.models import Patient

    ward = WardFactory()
    risks = ["low", "high", None, "medium", "low-medium", "low"]
    _lost, _, now = _outage(ward, count=6, risks=risks)
    # when it is swept and read for the board
    sweep_connectivity(now=now)
    [incident] = open_incidents(patients=Patient.objects.all())
    # then the high-risk patient is first, then medium, then the never scored, then the rest
    assert [m["risk"] for m in incident["members"]] == ["high", "medium", None, "low-medium", "low", "low"]
    assert incident["headline"].startswith("6 devices on mobile network 23415 silent since ")
    assert incident["headline"].endswith(", 2 patients at medium or high risk")


def test_a_deteriorating_patients_reading_during_the_outage_raises_its_clinical_alert_at_once(
    operator_user, django_capture_on_commit_callbacks, monkeypatch
):
    # Running ingest's on-commit callbacks inside the test's transaction would have ingest
    # remember a staging table that the test's rollback then drops (PostgreSQL): a set of its own.
    monkeypatch.setattr("devices.ingest.store._staged_connections", weakref.WeakSet())
    # given an outage folded into one incident
    ward = WardFactory()
    lost, _, now = _outage(ward)
    sweep_connectivity(now=now)
    patient = lost[0].patient
    # when a reading arrives from the patient's other device (on home broadband), deteriorating
    cuff = DeviceFactory(patient=patient, mode="spot_check", expected_interval_s=3600)
    at = timezone.now().isoformat()
    readings = [
        {"type": "respiratory_rate", "value": 27, "unit": "/min", "measured_at": at},
        {"type": "spo2", "value": 89, "unit": "%", "measured_at": at},
        {"type": "heart_rate", "value": 135, "unit": "/min", "measured_at": at},
    ]
    payload = json.dumps({"msg_id": "m-1", "observations": readings}).encode()
    with django_capture_on_commit_callbacks(execute=True):
        handle_message(obs_topic(cuff.device_id), payload, timezone.now())
    # then its clinical alert is raised and stands in the queue, never folded
    clinical = Alert.objects.filter(patient=patient, category="clinical", state__in=LIVE)
    assert clinical.exists()
    assert set(clinical) <= set(alert_queue(operator_user))
    assert not IncidentMember.objects.filter(alert__in=clinical).exists()


def test_devices_coming_back_close_the_incident_and_stragglers_become_their_own_alerts(operator_user):
    # given an outage of twenty hubs, folded into one incident
    ward = WardFactory()
    lost, fine, now = _outage(ward)
    sweep_connectivity(now=now)
    incident = ConnectivityIncident.objects.get()
    # when eighteen come back and keep reporting, and two do not
    back, stragglers = lost[:18], lost[18:]
    heard(back, now + dt.timedelta(seconds=30))
    # then while the rest may still come back, the incident stays open
    sweep_connectivity(now=now + dt.timedelta(seconds=40))
    incident.refresh_from_db()
    assert incident.state == "open"
    # and once they have had the time to, it closes
    heard(back + fine, now + dt.timedelta(minutes=2))
    sweep_connectivity(now=now + dt.timedelta(minutes=3))
    incident.refresh_from_db()
    assert incident.state == "closed"
    # and the returned devices' alerts resolved themselves
    assert not Alert.objects.filter(device__in=back, state__in=LIVE).exists()
    # and the two stragglers stand in the queue on their own, with a note saying why
    queued = [a for a in alert_queue(operator_user) if a.kind == AlertKind.DEVICE_OFFLINE]
    assert sorted(a.device_id for a in queued) == sorted(d.pk for d in stragglers)
    notes = AlertEvent.objects.filter(alert__in=queued, action="note")
    assert notes.count() == 2 and all("did not" in n.note for n in notes)


def test_every_device_coming_back_closes_the_incident_at_once():
    ward = WardFactory()
    lost, _, now = _outage(ward, count=8)
    sweep_connectivity(now=now)
    heard(lost, now + dt.timedelta(seconds=20))
    sweep_connectivity(now=now + dt.timedelta(seconds=25))
    assert ConnectivityIncident.objects.get().state == "closed"
    assert IncidentMember.objects.filter(returned_at__isnull=False).count() == 8


def test_a_device_of_the_same_network_going_silent_later_joins_the_open_incident(operator_user):
    # given an open incident on 23415
    ward = WardFactory()
    _lost, _fine, now = _outage(ward, count=10)
    sweep_connectivity(now=now)
    # when one more 23415 hub is noticed silent a sweep later
    late = hub_fleet(ward, 1, operator="23415")
    heard(late, now - dt.timedelta(minutes=4))
    sweep_connectivity(now=now + dt.timedelta(seconds=5))
    # then it joins the incident instead of alerting on its own
    assert IncidentMember.objects.filter(device=late[0]).exists()
    assert ConnectivityIncident.objects.count() == 1
    assert not [a for a in alert_queue(operator_user) if a.kind == AlertKind.DEVICE_OFFLINE]


def test_the_sweep_tells_the_boards_with_one_incident_event_per_ward(monkeypatch, django_capture_on_commit_callbacks):
    # given an outage across two wards
    sent = []
    monkeypatch.setattr("frontend.events._send", sent.append)
    first, second = WardFactory(), WardFactory()
    now = timezone.now()
    lost = hub_fleet(first, 6, operator="23415") + hub_fleet(second, 6, operator="23415")
    heard(lost, now - dt.timedelta(minutes=5))
    # when the sweep runs
    with django_capture_on_commit_callbacks(execute=True):
        sweep_connectivity(now=now)
    # then each ward's boards hear of the incident, and no folded alert is announced on its own
    incident_events = [m for m in sent if m["event"] == "incident.updated"]
    assert sorted(m["ward_id"] for m in incident_events) == sorted([first.pk, second.pk])
    assert not [m for m in sent if m["event"] == "alert.raised"]


def test_hubs_that_said_their_network_in_status_and_then_fell_silent_are_one_incident(operator_user):
    # given simulated hubs that connected through ingest and reported their network in status
    from devices.protocol import status_topic
    from devices.simulator import sim_network, status_payload

    ward = WardFactory()
    hubs = [
        DeviceFactory(device_id=f"sim-hub-{n:02d}", patient=PatientFactory(ward=ward), expected_interval_s=60)
        for n in range(20)
    ]  # the simulator puts five of these twenty on each of its four networks
    now = timezone.now()
    for hub in hubs:
        payload = status_payload("online", 80, sim_network(hub.device_id))
        handle_message(status_topic(hub.device_id), payload, now - dt.timedelta(minutes=5))
    # when one operator's hubs all stop at once and the others keep reporting
    operators = {hub.pk: sim_network(hub.device_id)["operator"] for hub in hubs}
    lost_operator = "23415"
    for hub in hubs:
        if operators[hub.pk] != lost_operator:
            handle_message(status_topic(hub.device_id), status_payload("online", 80, sim_network(hub.device_id)), now)
    sweep_connectivity(now=now)
    # then the silent ones are one incident on that operator
    silent = [hub.pk for hub in hubs if operators[hub.pk] == lost_operator]
    assert len(silent) == 5
    incident = ConnectivityIncident.objects.get()
    assert (incident.group_kind, incident.group_value) == ("operator", lost_operator)
    assert sorted(IncidentMember.objects.values_list("device_id", flat=True)) == sorted(silent)
