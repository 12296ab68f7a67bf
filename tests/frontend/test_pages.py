"""The dashboard pages: who may see them, what they show, and that every form works without JS."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import AuditEvent
from alerts.models import Alert, AlertEvent, AlertState
from patients.models import Observation
from tests.frontend.conftest import make_alert, make_patient, new_patient

pytestmark = pytest.mark.django_db


def test_signing_in_shows_the_login_page_to_anonymous_visitors(client):
    # given nobody signed in
    # when the board is requested
    response = client.get("/wards/")

    # then they are sent to the login page, which renders
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert b"Sign in" in client.get(response["Location"]).content


def test_home_sends_a_one_ward_clinician_to_their_ward(client, ward, clinician):
    # given a clinician of one ward
    client.force_login(clinician)

    # when they open the home page
    response = client.get("/")

    # then they land on their ward's board
    assert response["Location"] == f"/wards/{ward.pk}/"


def test_the_ward_board_shows_risk_with_words_and_shapes_not_colour_alone(client, ward, clinician):
    # given a high-risk patient and a silent one
    make_patient(ward, risk="high", family_name="Sick")
    make_patient(ward, risk="low", online=False, family_name="Silent")
    client.force_login(clinician)

    # when the board is opened
    html = client.get(f"/wards/{ward.pk}/").content.decode()

    # then the high badge has its shape and word, and silence reads "No data since"
    assert "◆" in html and "HIGH" in html
    assert "No data since" in html and "not-heard" in html
    assert html.index("Sick") < html.index("Silent")


def test_a_clinician_cannot_open_another_wards_board(client, other_ward, clinician):
    # given a clinician who is not on the other ward
    client.force_login(clinician)

    # when they ask for the other ward
    response = client.get(f"/wards/{other_ward.pk}/")

    # then it does not exist for them
    assert response.status_code == 404


def test_the_board_for_fifty_patients_costs_the_same_queries_as_for_five(
    client, ward, other_ward, operator, django_assert_max_num_queries
):
    # given an operator and wards of 5 and 50 patients
    client.force_login(operator)
    for _ in range(5):
        make_alert(make_patient(ward, risk="high"))
    for _ in range(50):
        make_alert(make_patient(other_ward, risk="medium"))
    counts = []
    # when both boards are rendered
    for target in (ward, other_ward):
        with django_assert_max_num_queries(20) as captured:
            assert client.get(f"/wards/{target.pk}/").status_code == 200
        counts.append(len(captured.captured_queries))

    # then they cost the same
    assert counts[0] == counts[1]


def test_opening_a_patient_writes_an_audit_event(client, ward, clinician):
    # given a patient on the clinician's ward
    patient = make_patient(ward, risk="medium")
    client.force_login(clinician)

    # when the patient page is opened
    response = client.get(f"/patients/{patient.pk}/")

    # then it renders and the viewing is audited
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action="patient.viewed", patient=patient, actor=clinician).count() == 1


def test_a_patient_of_another_ward_is_not_found_and_not_audited(client, other_ward, clinician):
    # given a patient the clinician may not see
    patient = make_patient(other_ward)
    client.force_login(clinician)

    # when they try to open it
    response = client.get(f"/patients/{patient.pk}/")

    # then it is a 404 and no view is recorded
    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="patient.viewed", patient=patient).exists()


def test_acknowledging_from_the_queue_without_javascript_records_who_and_when(client, ward, clinician):
    # given an open high alert
    alert = make_alert(make_patient(ward, risk="high"))
    client.force_login(clinician)

    # when the acknowledge form is posted
    response = client.post(f"/triage/alerts/{alert.pk}/acknowledge/")

    # then the queue is shown again and the alert is acknowledged by this clinician
    assert response.status_code == 302 and response["Location"] == "/triage/"
    alert.refresh_from_db()
    assert alert.state == AlertState.ACKNOWLEDGED and alert.acknowledged_by == clinician
    assert AlertEvent.objects.filter(alert=alert, action="acknowledged", actor=clinician).exists()


def test_a_triage_action_sent_by_script_gets_json_back(client, ward, clinician):
    # given an open alert
    alert = make_alert(make_patient(ward, risk="high"))
    client.force_login(clinician)

    # when it is assigned to me with an Accept: application/json request
    response = client.post(
        f"/triage/alerts/{alert.pk}/assign/", {"assignee": "me"}, headers={"Accept": "application/json"}
    )

    # then the answer is JSON and the alert is assigned
    assert response.status_code == 200 and response.json()["ok"] is True
    assert Alert.objects.get(pk=alert.pk).assigned_to == clinician


def test_resolving_without_an_outcome_is_refused_with_a_clear_error(client, ward, clinician):
    # given an open alert
    alert = make_alert(make_patient(ward, risk="high"))
    client.force_login(clinician)

    # when resolve is posted without an outcome
    response = client.post(f"/triage/alerts/{alert.pk}/resolve/", headers={"Accept": "application/json"})

    # then it is refused, saying what is missing, and the alert stays open
    assert response.status_code == 400
    assert "outcome" in response.json()["error"].lower()
    assert Alert.objects.get(pk=alert.pk).state == AlertState.OPEN


def test_resolving_with_an_outcome_closes_the_alert(client, ward, clinician):
    # given an open alert for a patient now back at low risk
    alert = make_alert(make_patient(ward, risk="low"))
    client.force_login(clinician)

    # when it is resolved with "home visit"
    client.post(f"/triage/alerts/{alert.pk}/resolve/", {"outcome": "home_visit", "note": "Seen at home"})

    # then it is resolved with that outcome
    alert.refresh_from_db()
    assert (alert.state, alert.outcome, alert.resolved_by) == (AlertState.RESOLVED, "home_visit", clinician)


def test_a_clinician_cannot_act_on_another_wards_alert(client, other_ward, clinician):
    # given an alert on a ward the clinician is not on
    alert = make_alert(make_patient(other_ward, risk="high"))
    client.force_login(clinician)

    # when they try to acknowledge it
    response = client.post(f"/triage/alerts/{alert.pk}/acknowledge/")

    # then it does not exist for them and nothing changed
    assert response.status_code == 404
    assert Alert.objects.get(pk=alert.pk).state == AlertState.OPEN


def test_the_triage_queue_lists_every_visible_open_alert_with_one_click_actions(client, ward, other_ward, operator):
    # given alerts on two wards
    first = make_alert(make_patient(ward, risk="high"))
    second = make_alert(make_patient(other_ward, risk="medium"), severity=40, title="NEWS2 5 – medium")
    client.force_login(operator)

    # when the queue is opened
    html = client.get("/triage/").content.decode()

    # then both are there, high first, each with its acknowledge button
    assert html.index(f'id="alert-{first.pk}"') < html.index(f'id="alert-{second.pk}"')
    assert html.count('data-action="acknowledge"') == 2


def test_a_manual_respiratory_rate_is_recorded_against_the_clinician(client, ward, clinician):
    # given a patient and a rate counted by the clinician ten minutes ago (ward local time)
    patient = make_patient(ward)
    client.force_login(clinician)
    taken = timezone.localtime() - dt.timedelta(minutes=10)

    # when the observation-set form is posted with only that rate
    response = client.post(
        f"/patients/{patient.pk}/observations/",
        {"respiratory_rate": "22", "measured_at": taken.strftime("%Y-%m-%dT%H:%M")},
    )

    # then the observation is stored as entered by them, at that time
    assert response.status_code == 302
    obs = Observation.objects.get(patient=patient, type="respiratory_rate", entered_by__isnull=False)
    assert obs.value == 22 and obs.entered_by == clinician
    assert abs((obs.measured_at - taken.replace(second=0, microsecond=0)).total_seconds()) < 1


def test_an_implausible_manual_reading_is_refused_beside_its_field_and_nothing_is_stored(client, ward, clinician):
    # given a patient
    patient = make_patient(ward)
    client.force_login(clinician)
    before = Observation.objects.filter(patient=patient).count()

    # when a set with a plausible pulse and an SpO2 of 150 is entered
    response = client.post(
        f"/patients/{patient.pk}/observations/",
        {"heart_rate": "80", "spo2": "150", "measured_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")},
    )

    # then the page says why, beside the SpO2 field, comes back at the form, and nothing was stored
    html = response.content.decode()
    assert response.status_code == 400
    error = html[html.index('id="id_spo2-error"') :][:200]
    assert "outside the plausible range" in error
    assert f'action="/patients/{patient.pk}/observations/#manual-entry"' in html
    assert Observation.objects.filter(patient=patient).count() == before


def test_setting_scale_2_needs_the_risk_confirmed(client, ward, clinician):
    # given a Scale 1 patient
    patient = new_patient(ward)
    client.force_login(clinician)

    # when Scale 2 is asked for without ticking the confirmation
    refused = client.post(f"/patients/{patient.pk}/scale/", {"scale": "2", "reason": "Confirmed COPD, CO2 retainer"})
    patient.refresh_from_db()
    still_scale_1 = patient.spo2_scale

    # and then with it
    client.post(
        f"/patients/{patient.pk}/scale/",
        {"scale": "2", "reason": "Confirmed COPD, CO2 retainer", "confirm_risk": "on"},
    )
    patient.refresh_from_db()

    # then the first was refused and the page named the risk; the second took effect
    assert refused.status_code == 400 and "can hide hypoxaemia" in refused.content.decode()
    assert still_scale_1 == 1
    assert patient.spo2_scale == 2 and patient.spo2_scale_set_by == clinician


def test_clearing_scale_2_needs_a_reason_and_the_risk_confirmed_like_setting_it(client, ward, clinician):
    # given a patient on Scale 2
    patient = new_patient(ward, spo2_scale=2)
    client.force_login(clinician)

    # when Scale 2 is cleared with the risk confirmed but no reason
    refused = client.post(f"/patients/{patient.pk}/scale/", {"scale": "1", "reason": " ", "confirm_risk": "on"})
    patient.refresh_from_db()
    still_scale_2 = patient.spo2_scale
    # and without the confirmation
    unconfirmed = client.post(f"/patients/{patient.pk}/scale/", {"scale": "1", "reason": "Target no longer applies"})
    # and then with both
    confirmed = {"scale": "1", "reason": "Target no longer applies", "confirm_risk": "on"}
    client.post(f"/patients/{patient.pk}/scale/", confirmed)
    patient.refresh_from_db()

    # then the first two were refused, saying why beside the field; the last took effect with its reason
    assert refused.status_code == 400 and "reason for clearing Scale 2" in refused.content.decode()
    assert unconfirmed.status_code == 400 and "Tick the box" in unconfirmed.content.decode()
    assert still_scale_2 == 2
    assert patient.spo2_scale == 1
    assert patient.scale_changes.get().reason == "Target no longer applies"


def test_the_series_endpoint_gives_readings_with_late_marks_and_rejected_readings_on_demand(client, ward, clinician):
    # given a patient with an on-time and a late reading, and a rejected one
    from devices.models import IngestRejection
    from tests.factories import ObservationFactory

    patient = make_patient(ward)
    device = patient.devices.get()
    ObservationFactory(patient=patient, device=device, type="heart_rate", value=80)
    ObservationFactory(
        patient=patient,
        device=device,
        type="heart_rate",
        value=95,
        is_late=True,
        measured_at=timezone.now() - dt.timedelta(hours=3),
    )
    IngestRejection.objects.create(
        device=device,
        topic="t",
        msg_id="m1",
        index=1,
        reason="spo2 value 150 outside 50-100 %",
        received_at=timezone.now(),
    )
    client.force_login(clinician)

    # when the series is read with and without rejections
    plain = client.get(f"/patients/{patient.pk}/series.json?period=24h").json()
    full = client.get(f"/patients/{patient.pk}/series.json?period=24h&rejections=1").json()

    # then readings are in time order with the late one marked, and rejections only on demand
    assert [p["late"] for p in plain["series"]["heart_rate"]] == [True, False]
    assert plain["rejections"] == []
    assert full["rejections"][0]["reason"] == "spo2 value 150 outside 50-100 %"


def test_a_period_with_a_time_without_an_offset_is_read_as_ward_time_and_a_bad_one_is_refused(client, ward, clinician):
    # given a patient
    patient = make_patient(ward)
    client.force_login(clinician)

    # when the series is asked for with nonsense
    response = client.get(f"/patients/{patient.pk}/series.json?since=yesterday")

    # then the error names the problem
    assert response.status_code == 400 and "not a date and time" in response.json()["error"]


def test_the_outcome_summary_counts_alerts_and_what_followed(client, ward, clinician):
    # given one alert resolved by a home visit, acknowledged after four minutes
    alert = make_alert(make_patient(ward, risk="high"))
    Alert.objects.filter(pk=alert.pk).update(
        state=AlertState.RESOLVED,
        outcome="home_visit",
        acknowledged_at=alert.opened_at + dt.timedelta(minutes=4),
        resolved_at=alert.opened_at + dt.timedelta(minutes=30),
    )
    client.force_login(clinician)

    # when the summary for the last day is opened
    html = client.get("/triage/summary/?period=24h").content.decode()

    # then it shows the count, the time to acknowledge and the outcome in words
    assert "1 alert raised" in html
    assert "4 min" in html and "Home visit: 1" in html


def test_the_outcome_summary_explains_a_backwards_period(client, clinician):
    # given a clinician
    client.force_login(clinician)

    # when the period ends before it starts
    response = client.get("/triage/summary/?since=2026-11-23T10:00:00Z&until=2026-11-22T10:00:00Z")

    # then the page says so instead of failing
    assert response.status_code == 200 and "must be before its end" in response.content.decode()
