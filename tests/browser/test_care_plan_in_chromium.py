"""Agreed parameters and patient check-ins in a real browser: a clinician agrees a limit (and is
told why another is refused), and a patient's red-flag answer on a phone reaches triage live."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from alerts.models import Alert, AlertKind
from careplan.models import EscalationPlan
from careplan.services import default_plan
from checkins.questions import load_questions
from checkins.services import checkin_link_issue
from tests.browser.conftest import screenshot
from tests.browser.test_dashboard_in_chromium import log_in, wait_live
from tests.factories import PatientFactory, UserFactory, WardFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


def seed():
    load_questions()  # a transactional test's flush removed what the migration loaded
    ward = WardFactory(name="Respiratory Virtual Ward")
    nurse = UserFactory(username="nurse", first_name="Nia", last_name="Hughes", role=Role.CLINICIAN)
    ward.staff.add(nurse)
    patient = PatientFactory(ward=ward, given_name="Alex", family_name="Breathless")
    return ward, nurse, patient


def agree(page, parameter: str, low: str, high: str, reason: str) -> None:
    """Fill and send the patient page's agreed-parameter form, to be reviewed in a week."""
    form = page.locator("#agreed-form")
    form.get_by_label("Parameter").select_option(parameter)
    form.get_by_label("From (lowest agreed)").fill(low)
    form.get_by_label("To (highest agreed)").fill(high)
    form.get_by_label("Reason").fill(reason)
    form.get_by_label("Review by").fill((timezone.localdate() + dt.timedelta(days=7)).isoformat())
    form.get_by_role("button", name="Agree").click()


def test_a_clinician_agrees_a_pulse_range_and_a_range_past_the_guard_rails_is_refused(live_platform, chromium):
    # given the nurse on Alex's page
    base = live_platform["url"]
    _, _, patient = seed()
    nurse = log_in(chromium, base, "nurse")
    nurse.goto(f"{base}/patients/{patient.pk}/")

    # when they agree a pulse of 50-130 for known atrial fibrillation
    agree(nurse, "heart_rate", "50", "130", "Known AF, rate-controlled")

    # then the page lists it with its reason and review date
    row = nurse.locator('#agreed-table tr[data-parameter="heart_rate"]')
    expect(row).to_contain_text("50–130")
    expect(row).to_contain_text("Known AF, rate-controlled")
    expect(nurse.locator(".messages")).to_contain_text("Agreed: Pulse 50–130")

    # when they try a respiration rate reaching 26, where the chart scores 3
    nurse.locator("#agreed-form-box summary").click()
    agree(nurse, "respiratory_rate", "12", "26", "COPD")

    # then it is refused, saying which rule, and nothing else changed
    expect(nurse.locator(".messages")).to_contain_text("above 24 /min always alerts by the chart")
    expect(nurse.locator('#agreed-table tr[data-parameter="respiratory_rate"]')).to_have_count(0)
    expect(row).to_contain_text("50–130")
    screenshot(nurse, "agreed-parameters")


def test_a_patient_answers_on_a_phone_and_a_red_flag_reaches_triage_live(live_platform, chromium):
    # given the nurse watching triage, and Alex's check-in link with a plan
    base = live_platform["url"]
    _, nurse_user, patient = seed()
    # (written directly: a service's live event, sent inline on the embedded channel layer, cannot
    # leave this thread while Playwright's event loop runs in it)
    EscalationPlan.objects.create(
        patient=patient, updated_by=nurse_user, updated_at=timezone.now(), **default_plan(patient)
    )
    _, token = checkin_link_issue(patient=patient, user=nurse_user)
    nurse = log_in(chromium, base, "nurse")
    nurse.goto(f"{base}/triage/")
    wait_live(nurse)
    nurse.evaluate("window.__sameDocument = true")

    # when Alex opens the link on a phone and answers, one question per screen
    phone = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    phone.goto(f"{base}/checkin/{token}/")
    phone.get_by_label("I am the patient").check()
    phone.get_by_role("button", name="Start").click()
    expect(phone.locator("legend")).to_have_text("Compared with yesterday, how is your breathing?")
    expect(phone.locator(".step")).to_have_text("Question 1 of 4")
    screenshot(phone, "checkin-phone-question", publish=True)
    phone.get_by_label("Much worse").check()
    phone.get_by_role("button", name="Next").click()

    # then the red flag is on the nurse's triage queue without a reload
    alert = Alert.objects.get(patient=patient, kind=AlertKind.CHECKIN_RED_FLAG)
    card = nurse.locator(f'li[data-alert-id="{alert.pk}"]')
    expect(card).to_contain_text("much more breathless than yesterday", timeout=10000)
    expect(card).to_contain_text("CLINICAL")
    assert nurse.evaluate("window.__sameDocument") is True

    # and Alex finishes and is told the ward knows, with their plan
    for label in ("No change", "Yes", "No"):
        phone.get_by_label(label, exact=True).check()
        phone.get_by_role("button", name="Next").click()
    expect(phone.locator("#flagged")).to_be_visible()
    expect(phone.locator("#plan")).to_contain_text("Call 999")
    screenshot(phone, "checkin-phone-done", publish=True)
    screenshot(nurse, "checkin-red-flag-triage")
