"""The board shows a connectivity incident as one card, the at-risk patients first."""

import datetime as dt

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Role
from devices.connectivity import sweep_connectivity
from frontend import live
from tests.factories import UserFactory, WardFactory
from tests.outage.builders import heard, hub_fleet

pytestmark = pytest.mark.django_db


@override_settings(VW_DEVICE_GRACE_SECONDS=60)
def test_the_board_shows_one_incident_card_with_the_at_risk_patients_first(client):
    # given an operator, and an outage of six hubs whose patients were at different risks
    operator = UserFactory(username="cc", role=Role.OPERATOR)
    ward = WardFactory(name="Respiratory Virtual Ward")
    now = timezone.now()
    lost = hub_fleet(ward, 6, operator="23415", risks=["low", "low", "high", "low", "medium", "low"])
    heard(lost, now - dt.timedelta(minutes=5))
    sweep_connectivity(now=now)
    client.force_login(operator)
    # when the command centre's board is opened
    page = " ".join(client.get("/wards/").content.decode().split())
    # then one incident card says what happened, with the high-risk patient listed first
    assert page.count('class="card incident"') == 1
    assert "6 devices on mobile network 23415 silent since" in page
    assert "2 patients at medium or high risk" in page
    high, medium = lost[2].patient, lost[4].patient
    card = page[page.index('class="card incident"') :]
    assert card.index(high.family_name) < card.index(medium.family_name) < card.index(lost[0].patient.family_name)
    # and the live snapshot the page re-reads on every event carries the same card
    snapshot = live.board_snapshot(user=operator, ward_id=None)
    assert "mobile network 23415" in snapshot["html"]
    assert next(i["headline"] for i in snapshot["incidents"]).startswith("6 devices")


@override_settings(VW_DEVICE_GRACE_SECONDS=60)
def test_a_clinician_sees_only_their_wards_patients_under_an_incident(client):
    # given an outage across two wards, and a clinician of one of them
    mine, theirs = WardFactory(), WardFactory()
    clinician = UserFactory(username="nurse", role=Role.CLINICIAN)
    mine.staff.add(clinician)
    now = timezone.now()
    lost = hub_fleet(mine, 3, operator="23415") + hub_fleet(theirs, 4, operator="23415")
    heard(lost, now - dt.timedelta(minutes=5))
    sweep_connectivity(now=now)
    client.force_login(clinician)
    # when the clinician opens their board
    page = " ".join(client.get(f"/wards/{mine.pk}/").content.decode().split())
    # then the incident counts and lists their three patients only
    assert "3 devices on mobile network 23415" in page
    assert lost[3].patient.family_name not in page


@override_settings(VW_DEVICE_GRACE_SECONDS=60)
def test_the_triage_queue_is_headed_by_the_incident_instead_of_its_dropouts(client):
    # given an outage of five hubs and one lone dropout on another network
    operator = UserFactory(username="cc", role=Role.OPERATOR)
    ward = WardFactory()
    now = timezone.now()
    lost = hub_fleet(ward, 5, operator="23415")
    lone = hub_fleet(ward, 1, operator="23420")
    heard(lost + lone, now - dt.timedelta(minutes=5))
    sweep_connectivity(now=now)
    client.force_login(operator)
    # when the triage queue is opened
    page = " ".join(client.get("/triage/").content.decode().split())
    # then the incident heads it, and only the lone dropout has a card of its own
    assert "5 devices on mobile network 23415 silent since" in page
    assert page.count('class="alert-card') == 1
    assert f"Not heard from: {lone[0]}" in page
