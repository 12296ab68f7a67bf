"""What a ward team trips over on first use of the demo: found by walking through every screen."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from frontend import live, selectors
from tests.frontend.conftest import make_alert, make_patient, make_score


@pytest.mark.django_db
def test_the_patient_page_links_to_pairing_a_device(client, ward, clinician):
    # given a clinician on a patient's page
    patient = make_patient(ward)
    client.force_login(clinician)
    # when the page is opened
    html = client.get(reverse("frontend:patient", args=[patient.pk])).content.decode()
    # then the devices card offers the way to pair (or disconnect) a device
    assert reverse("frontend:pairing-code", args=[patient.pk]) in html
    assert "Pair a device" in html


@pytest.mark.django_db
def test_the_live_patient_snapshot_keeps_the_pairing_link(ward, clinician):
    # given a patient page re-rendered from a live snapshot (no request)
    patient = make_patient(ward)
    # when the snapshot is built
    snapshot = live.patient_snapshot(user=clinician, patient_id=patient.pk)
    # then the pairing link survives the live refresh
    assert reverse("frontend:pairing-code", args=[patient.pk]) in snapshot["html"]


@pytest.mark.django_db
def test_the_reminder_data_names_the_patient_whose_alert_is_unacknowledged(ward, operator):
    # given an open high alert for a patient on the board
    patient = make_patient(ward, risk="high")
    make_alert(patient)
    # when the board snapshot the reminder banner reads is built
    alerts = live.board_snapshot(user=operator, ward_id=None)["alerts"]
    # then each alert says whose it is
    assert [alert["patient_name"] for alert in alerts] == [patient.name]


@pytest.mark.django_db
def test_the_triage_snapshot_names_each_alerts_patient(ward, operator):
    # given an open alert
    patient = make_patient(ward, risk="high")
    make_alert(patient)
    # when the triage snapshot is built
    alerts = live.triage_snapshot(user=operator)["alerts"]
    # then the reminder banner on the triage page can name the patient too
    assert [alert["patient_name"] for alert in alerts] == [patient.name]


@pytest.mark.django_db
def test_the_oxygen_sub_score_reads_as_words_not_a_boolean(client, ward, clinician):
    # given a patient scoring +2 for supplemental oxygen, which the engine keeps as a boolean
    patient = make_patient(ward, risk=None)
    score = make_score(patient, total=2, risk="low", sub_scores={"on_oxygen": {"value": True, "score": 2}})
    # when the board summarises it and the ward board shows it
    driver = next(d for d in selectors.score_summary(score)["drivers"] if d["parameter"] == "on_oxygen")
    client.force_login(clinician)
    html = client.get(reverse("frontend:ward", args=[ward.pk])).content.decode()
    # then the chip says "on oxygen", never "True"
    assert driver["value"] == "on oxygen"
    assert "Air/O₂ on oxygen" in html and "Air/O₂ True" not in html


@pytest.mark.django_db
def test_the_outcome_summary_names_the_day_at_both_ends_of_its_period(client, ward, operator):
    # given the default period, the last 24 hours, which starts yesterday
    client.force_login(operator)
    now = timezone.localtime()
    # when the summary opens
    html = client.get(reverse("frontend:triage-summary")).content.decode()
    # then both ends carry their day, so it never reads "12:32 to 12:32"
    yesterday = now - dt.timedelta(days=1)
    assert f"{yesterday:%a} {yesterday.day} {yesterday:%b}" in html
    assert f"to {now:%a} {now.day} {now:%b}" in html


@pytest.mark.django_db
@pytest.mark.parametrize("route", ["frontend:triage-summary", "frontend:pair"])
def test_pages_name_an_icon_so_browsers_do_not_ask_for_a_missing_favicon(client, operator, route):
    # given a signed-in member of staff (the pairing page needs no one)
    client.force_login(operator)
    # when a dashboard page or the patient's pairing page is opened
    html = client.get(reverse(route)).content.decode()
    # then it names the icon the platform serves, instead of a /favicon.ico that is a 404
    assert 'rel="icon"' in html and "favicon.svg" in html
