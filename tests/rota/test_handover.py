"""Shift hand-over: the view of what matters, and accepting it moves the outgoing person's alerts."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import AlertEvent, AlertState
from alerts.services import AlertActionError, AlertPermissionError, alert_add_note, alert_assign
from rota.handover import handover_accept, handover_start, handover_view
from tests.frontend.conftest import make_alert, make_patient
from tests.rota.conftest import high_alert, person

pytestmark = pytest.mark.django_db


def test_the_view_lists_patients_of_concern_open_alerts_with_owners_reviews_due_and_notes(team):
    # given a HIGH alert owned by the nurse with a note, a steady patient, and a review due in 2 hours
    alert = high_alert(team["ward"])
    alert_assign(alert=alert, user=team["nurse"], assignee=team["nurse"])
    alert_add_note(alert=alert, user=team["nurse"], note="GP visiting at 3")
    make_patient(team["ward"], risk="low", given_name="Cy", family_name="Steady")
    reviewed = make_alert(make_patient(team["ward"], risk="medium"), state=AlertState.RESOLVED, severity=40)
    reviewed.review_by = timezone.now() + dt.timedelta(hours=2)
    reviewed.save()
    # when the nurse opens the ward's hand-over
    view = handover_view(user=team["nurse"], ward_id=team["ward"].pk)
    # then: the HIGH and the medium patient, not the steady one; the open alert and its owner; the review; the note
    names = [p.name for p in view["patients_of_concern"]]
    assert alert.patient.name == names[0] and "Cy Steady" not in names and len(names) == 2
    assert [(a.pk, a.assigned_to) for a in view["alerts"]] == [(alert.pk, team["nurse"])]
    assert view["reviews_due"] == [reviewed]
    assert [n.note for n in view["notes"]] == ["GP visiting at 3"]


def test_accepting_moves_the_outgoing_persons_open_alerts_to_the_incoming_person_recorded(team):
    # given two open alerts owned by the nurse and one owned by someone else
    colleague = person("nurse2", "Noor", "Next")
    team["ward"].staff.add(colleague)
    mine = [high_alert(team["ward"]) for _ in range(2)]
    for alert in mine:
        alert_assign(alert=alert, user=team["nurse"], assignee=team["nurse"])
    others = high_alert(team["ward"])
    alert_assign(alert=others, user=team["nurse"], assignee=team["doctor"])
    # when the nurse hands over to Noor and Noor accepts
    handover = handover_start(user=team["nurse"], ward=team["ward"], incoming=colleague, note="Bed 3 anxious")
    done = handover_accept(user=colleague, handover_id=handover.pk)
    # then the nurse's alerts are Noor's, the doctor's stays, and each move is in the alert's timeline
    assert sorted(done.moved_alert_ids) == sorted(a.pk for a in mine)
    for alert in mine:
        alert.refresh_from_db()
        assert alert.assigned_to == colleague
        event = alert.events.filter(action=AlertEvent.Action.ASSIGNED).latest("at")
        assert event.actor == colleague and event.data["handover_id"] == handover.pk
        assert "hand-over from Nia Hughes" in event.note
    others.refresh_from_db()
    assert others.assigned_to == team["doctor"]


def test_only_the_named_incoming_person_can_accept_and_only_once(team):
    colleague = person("nurse2", "Noor", "Next")
    team["ward"].staff.add(colleague)
    handover = handover_start(user=team["nurse"], ward=team["ward"], incoming=colleague)
    with pytest.raises(AlertPermissionError, match="only they can accept it"):
        handover_accept(user=team["doctor"], handover_id=handover.pk)
    handover_accept(user=colleague, handover_id=handover.pk)
    with pytest.raises(AlertActionError, match="already accepted"):
        handover_accept(user=colleague, handover_id=handover.pk)


def test_handing_over_to_yourself_or_to_someone_off_the_ward_is_refused(team):
    with pytest.raises(AlertActionError, match="not to yourself"):
        handover_start(user=team["nurse"], ward=team["ward"], incoming=team["nurse"])
    stranger = person("stranger", "Sol", "Elsewhere")
    with pytest.raises(AlertActionError, match="does not work on Respiratory Virtual Ward"):
        handover_start(user=team["nurse"], ward=team["ward"], incoming=stranger)


def test_the_handover_page_is_printable_and_offers_acceptance_to_the_incoming_person(client, team):
    colleague = person("nurse2", "Noor", "Next")
    team["ward"].staff.add(colleague)
    handover_start(user=team["nurse"], ward=team["ward"], incoming=colleague)
    client.force_login(colleague)
    html = client.get(f"/handover/?ward={team['ward'].pk}").content.decode()
    assert "Accept hand-over" in html and "window.print()" in html and "Patients of concern" in html
