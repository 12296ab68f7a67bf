"""The triage page's cards: the patient now beside what the alert was raised for, clinical and
technical told apart, the RCP response once, the timeline, and resolving with a review."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import AlertKind, AlertState, Category, Severity
from alerts.services import alert_add_note
from devices.models import Device
from tests.frontend.conftest import RESPONSES, make_alert, make_patient, make_score

pytestmark = pytest.mark.django_db


def _card(html, alert_id):
    start = html.index(f'<li id="alert-{alert_id}"')
    end = html.find('<li id="alert-', start + 1)
    return html[start : end if end != -1 else None]


def test_a_card_shows_the_patient_now_at_15_and_7_only_as_when_raised(client, ward, clinician):
    # given a high alert raised at 7 on a patient now at 15
    patient = make_patient(ward, risk="high")
    alert = make_alert(patient, title="NEWS2 7 at 09:00: high risk", raised_total=7, raised_risk="high")
    make_score(patient, total=15, risk="high")
    client.force_login(clinician)
    # when the triage page is opened
    card = _card(client.get("/triage/").content.decode(), alert.pk)
    # then the card's headline and "now" say 15; 7 is only what it was raised for
    assert 'class="now-total">15<' in card
    assert "NEWS2 now 15 HIGH" in card and "NEWS2 7 (high risk) when raised" in card
    assert "worse since raised at" in card and "(+8, was 7)" in card
    assert "NEWS2 7 at 09:00: high risk" not in card


def test_the_board_chip_never_shows_the_raised_figure_as_current(client, ward, clinician):
    # given a high alert raised at 7 on a patient now at 1 (low)
    patient = make_patient(ward, risk="low")
    make_alert(patient, title="NEWS2 7: high risk", raised_total=7, raised_risk="high")
    client.force_login(clinician)
    # when the ward board is opened / then the chip says the alert is high-risk, now 1 LOW, raised at 7
    html = client.get(f"/wards/{ward.pk}/").content.decode()
    assert "High-risk alert · NEWS2 now 1 LOW · raised at 7" in html
    assert "NEWS2 7: high risk" not in html


def test_clinical_and_technical_alerts_wear_different_badges_and_words(client, ward, clinician):
    # given a clinical and a technical alert
    patient = make_patient(ward, risk="medium")
    clinical = make_alert(patient, severity=Severity.MEDIUM)
    device = Device.objects.filter(patient=patient).first()
    technical = make_alert(
        patient,
        kind=AlertKind.DEVICE_OFFLINE,
        category=Category.TECHNICAL,
        severity=Severity.MEDIUM,
        device=device,
        title="Pulse oximeter offline",
    )
    client.force_login(clinician)
    html = client.get("/triage/").content.decode()
    # then the technical card says TECHNICAL with its own badge and no risk badge; the clinical one the reverse
    tech, clin = _card(html, technical.pk), _card(html, clinical.pk)
    assert "badge technical" in tech and "⚙</span> TECHNICAL" in tech
    assert "badge risk-" not in tech.split("alert-title")[0]
    assert "CLINICAL" in clin and "badge risk-medium" in clin and "TECHNICAL" not in clin
    assert 'data-category="technical"' in tech and "Technical: Pulse oximeter offline" in tech


def test_the_rcp_response_is_shown_once_not_on_every_card(client, ward, clinician):
    # given three high alerts, each raised with the RCP response as its detail
    for _ in range(3):
        make_alert(make_patient(ward, risk="high"), detail=RESPONSES["high"])
    client.force_login(clinician)
    # when the triage page is opened / then the long response text appears once, in the key
    html = client.get("/triage/").content.decode()
    assert html.count("emergency assessment by a team with critical care competencies") == 1
    assert html.count(RESPONSES["high"]) == 0


def test_a_card_says_who_owns_it_and_how_long_it_has_waited(client, ward, clinician):
    # given an unowned alert raised 25 minutes ago and one assigned to the clinician
    waiting = make_alert(make_patient(ward, risk="high"), opened_at=timezone.now() - dt.timedelta(minutes=25))
    owned = make_alert(make_patient(ward, risk="high"), assigned_to=clinician)
    client.force_login(clinician)
    html = client.get("/triage/").content.decode()
    # then each says so
    assert "Nobody owns this" in _card(html, waiting.pk) and "waiting 25 min" in _card(html, waiting.pk)
    assert "Owner: <strong>Nia Nurse</strong>" in _card(html, owned.pk)


def test_the_card_timeline_shows_notes_with_who_and_when(client, ward, clinician):
    # given an alert with a note
    alert = make_alert(make_patient(ward, risk="high"))
    alert_add_note(alert=alert, user=clinician, note="Spoke to daughter; GP visiting at 3")
    client.force_login(clinician)
    # when the queue is shown / then the timeline holds the note with its author
    card = _card(client.get("/triage/").content.decode(), alert.pk)
    assert "Timeline (1)" in card
    assert "Nia Nurse" in card and "Spoke to daughter; GP visiting at 3" in card


def test_resolving_from_the_card_while_in_band_asks_for_a_review_and_accepts_one(client, ward, clinician):
    # given a medium alert on a patient still at medium
    alert = make_alert(make_patient(ward, risk="medium"), severity=Severity.MEDIUM)
    client.force_login(clinician)
    url = f"/triage/alerts/{alert.pk}/resolve/"
    # when resolved without a review time (as the page script does) / then refused with the reason
    refused = client.post(url, {"outcome": "advice_by_phone"}, headers={"accept": "application/json"})
    assert refused.status_code == 400 and "choose when to review" in refused.json()["error"]
    # when resolved with "review in 1 hour" / then resolved with the review an hour ahead
    before = timezone.now()
    done = client.post(url, {"outcome": "advice_by_phone", "review_in": "60"}, headers={"accept": "application/json"})
    alert.refresh_from_db()
    assert done.status_code == 200 and alert.state == AlertState.RESOLVED
    assert dt.timedelta(minutes=59) < alert.review_by - before < dt.timedelta(minutes=61)


def test_the_patient_page_shows_each_alerts_timeline(client, ward, clinician):
    # given an alert with a note, on the clinician's ward
    patient = make_patient(ward, risk="high")
    alert = make_alert(patient)
    alert_add_note(alert=alert, user=clinician, note="Daughter says more confused today")
    client.force_login(clinician)
    # when the patient page is opened / then the alert's timeline holds the note and its author
    html = client.get(f"/patients/{patient.pk}/").content.decode()
    timeline = html.split(f'data-timeline-for="{alert.pk}"')[1].split("</details>")[0]
    assert "Nia Nurse" in timeline and "Daughter says more confused today" in timeline
