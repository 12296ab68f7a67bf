"""The patient's check-in pages through HTTP: one question per screen, the patient's language, the
page weight budget (docs/care-plan.md), and every read audited; and the staff pages."""

import datetime as dt
import re
from html import unescape

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent
from alerts.models import Alert, AlertKind
from checkins.links import token_hash
from checkins.models import Checkin, CheckinLink
from checkins.services import checkin_link_issue

pytestmark = pytest.mark.django_db

# The budget: a page and its one stylesheet fit the first round trip of a new connection
# (TCP's initial window of ten segments, about 14 KB), uncompressed; no script, image or font.
PAGE_BUDGET_BYTES = 14 * 1024


@pytest.fixture
def opened(nurse_and_patient):
    nurse, patient = nurse_and_patient
    _, token = checkin_link_issue(patient=patient, user=nurse)
    return Client(enforce_csrf_checks=False), token, patient


def _weight(response) -> int:
    html = response.content.decode()
    sheets = re.findall(r'<link rel="stylesheet" href="/static/([^"]+)"', html)
    assert len(sheets) == 1, sheets
    return len(response.content) + len(open(finders.find(sheets[0]), "rb").read())


def test_a_patient_answers_every_question_one_per_screen_and_sees_their_plan(opened):
    client, token, patient = opened
    start = client.get(f"/checkin/{token}/")
    assert start.status_code == 200 and "Who is answering?" in start.content.decode()
    answered = client.post(f"/checkin/{token}/", {"answered_by": "patient"})
    assert answered.status_code == 302 and answered.url.endswith("/q/1/")
    for number, value in enumerate(["same", "no_change", "yes", "no"], start=1):
        page = client.get(f"/checkin/{token}/q/{number}/")
        html = page.content.decode()
        assert html.count("<legend>") == 1 and f"Question {number} of 4" in html
        client.post(f"/checkin/{token}/q/{number}/", {"value": value})
    done = client.get(f"/checkin/{token}/done/")
    assert "Your answers have been sent" in done.content.decode()
    checkin = Checkin.objects.get(patient=patient)
    assert checkin.completed_at is not None and checkin.answered_by == "patient"
    # every page that showed the patient's data is on record, with no actor and the route
    views = AuditEvent.objects.filter(action="checkin.page_viewed", patient=patient)
    assert views.count() == 6 and all(event.actor is None for event in views)


def test_a_red_flag_answer_on_the_phone_reaches_the_alert_queue_and_the_patient_is_told(opened):
    client, token, patient = opened
    client.post(f"/checkin/{token}/", {"answered_by": "carer"})
    client.post(f"/checkin/{token}/q/1/", {"value": "much_worse"})
    assert Alert.objects.get(patient=patient, kind=AlertKind.CHECKIN_RED_FLAG).severity == 50
    for number, value in [(2, "no_change"), (3, "yes"), (4, "no")]:
        client.post(f"/checkin/{token}/q/{number}/", {"value": value})
    done = client.get(f"/checkin/{token}/done/").content.decode()
    assert 'id="flagged"' in done and "They have been told and will contact you" in done


def test_no_answer_is_asked_again_with_a_clear_message(opened):
    client, token, _ = opened
    client.post(f"/checkin/{token}/", {"answered_by": "patient"})
    page = client.post(f"/checkin/{token}/q/1/", {})
    assert page.status_code == 400 and "Choose one answer." in page.content.decode()


def test_the_pages_are_in_the_patients_language(nurse_and_patient):
    nurse, patient = nurse_and_patient
    _, token = checkin_link_issue(patient=patient, user=nurse, language="cy")
    client = Client()
    html = unescape(client.get(f"/checkin/{token}/").content.decode())
    assert 'lang="cy"' in html and "Pwy sy'n ateb?" in html
    client.post(f"/checkin/{token}/", {"answered_by": "patient"})
    assert "O'i gymharu â ddoe" in unescape(client.get(f"/checkin/{token}/q/1/").content.decode())


@pytest.mark.parametrize("page", ["start", "q/1", "q/4", "done", "plan"])
def test_every_check_in_page_keeps_within_its_weight_budget(opened, page):
    client, token, patient = opened
    from careplan.services import default_plan, escalation_plan_save

    escalation_plan_save(patient=patient, user=patient.ward.staff.get(), **default_plan(patient))
    client.post(f"/checkin/{token}/", {"answered_by": "patient"})
    if page == "done":
        for number, value in enumerate(["same", "no_change", "yes", "no"], start=1):
            client.post(f"/checkin/{token}/q/{number}/", {"value": value})
    response = client.get(f"/checkin/{token}/{page}/" if page != "start" else f"/checkin/{token}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<script" not in html and "<img" not in html and "@font-face" not in html
    weight = _weight(response)
    print(f"check-in page {page}: {weight} bytes with its stylesheet")  # the figure in docs/care-plan.md
    assert weight <= PAGE_BUDGET_BYTES, weight
    assert response["Cache-Control"].startswith("no-store")


def test_a_bad_link_names_no_patient(opened):
    client, token, patient = opened
    response = client.get(f"/checkin/{token}x/")
    assert response.status_code == 404
    assert patient.given_name not in response.content.decode()
    CheckinLink.objects.update(revoked_at="2026-01-01T00:00:00Z")
    assert "replaced or stopped" in client.get(f"/checkin/{token}/").content.decode()


def test_the_plan_is_shown_to_the_patient(opened):
    client, token, patient = opened
    from careplan.services import escalation_plan_save

    fields = {"if_worse": "Use your blue inhaler", "call_ward_when": "Breathless", "call_111_when": "Ward closed",
              "call_999_when": "Lips turn blue", "ward_phone": "0300 000 1111", "ward_hours": "8am to 8pm"}  # fmt: skip
    escalation_plan_save(patient=patient, user=patient.ward.staff.get(), **fields)
    html = client.get(f"/checkin/{token}/plan/").content.decode()
    assert "Use your blue inhaler" in html and 'href="tel:03000001111"' in html and "Lips turn blue" in html


# --- staff pages ------------------------------------------------------------------------------


def test_the_patient_page_shows_agreed_parameters_plan_and_check_ins(nurse_and_patient, client):
    nurse, patient = nurse_and_patient
    client.force_login(nurse)
    html = client.get(f"/patients/{patient.pk}/").content.decode()
    assert 'id="care-plan"' in html and 'id="escalation-plan"' in html and 'id="checkins"' in html


def test_a_refused_limit_comes_back_to_the_page_with_the_rule_it_broke(nurse_and_patient, client):
    nurse, patient = nurse_and_patient
    client.force_login(nurse)
    review_by = (timezone.localdate() + dt.timedelta(days=7)).isoformat()
    data = {"parameter": "heart_rate", "low": "50", "high": "150", "reason": "AF", "review_by": review_by}
    response = client.post(f"/patients/{patient.pk}/agreed/", data, follow=True)
    html = response.content.decode()
    assert "Agreed parameters not changed." in html and "always alerts by the chart" in html


def test_issuing_a_link_shows_it_once_and_keeps_only_its_hash(nurse_and_patient, client):
    nurse, patient = nurse_and_patient
    client.force_login(nurse)
    html = client.post(f"/patients/{patient.pk}/checkin-link/", {"language": "en"}).content.decode()
    url = re.search(r'id="checkin-url" readonly value="([^"]+)"', html).group(1)
    token = url.rstrip("/").rsplit("/", 1)[1]
    assert CheckinLink.objects.get(patient=patient).token_hash == token_hash(token)


def test_a_clinician_records_a_phone_check_in_from_the_page(nurse_and_patient, client):
    nurse, patient = nurse_and_patient
    client.force_login(nurse)
    assert client.get(f"/patients/{patient.pk}/checkins/phone/").status_code == 200
    data = {"told_by": "patient", "q_breathing": "same", "q_cough_sputum": "more", "q_finish_sentence": "yes",
            "q_chest_pain": "no"}  # fmt: skip
    assert client.post(f"/patients/{patient.pk}/checkins/phone/", data).status_code == 302
    assert Checkin.objects.get(patient=patient).recorded_by == nurse
