"""Triage in a real browser: alerts that tell the truth now, refusals said where they happen, and
each alert's record on its card."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from alerts.services import alert_assign
from rota.handover import handover_start
from rota.models import DutyRole, Shift
from tests.browser.conftest import screenshot
from tests.browser.test_dashboard_in_chromium import log_in, wait_live
from tests.factories import UserFactory, WardFactory
from tests.frontend.conftest import make_alert, make_patient, make_score

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def seed() -> dict[str, Any]:
    ward = WardFactory(name="Respiratory Virtual Ward")
    nurse = UserFactory(username="nurse", first_name="Nia", last_name="Hughes", role=Role.CLINICIAN)
    ward.staff.add(nurse)
    alex = make_patient(ward, risk="high", given_name="Alex", family_name="Breathless")
    alert = make_alert(alex, title="NEWS2 7 at 09:10: high risk", raised_total=7, raised_risk="high")
    make_score(alex, total=15, risk="high")
    return {"ward": ward, "nurse": nurse, "alex": alex, "alert": alert}


def test_a_patient_raised_at_7_and_now_at_15_reads_15_on_the_card_the_board_and_the_banner(live_platform, chromium):
    # given Alex's high alert raised at NEWS2 7, and Alex now at 15
    base, cast = live_platform["url"], seed()
    nurse = log_in(chromium, base, "nurse")
    wait_live(nurse)

    # then the board's chip and the reminder banner say 15 now, and 7 only as "raised at"
    chip = nurse.locator(f'.alert-chip[data-alert-id="{cast["alert"].pk}"]')
    expect(chip).to_contain_text("NEWS2 now 15 HIGH")
    expect(chip).to_contain_text("raised at 7")
    expect(nurse.locator("#reminder")).to_contain_text("NEWS2 now 15 HIGH", timeout=10000)
    expect(nurse.locator("#reminder")).not_to_contain_text("NEWS2 7 at")

    # when the triage queue is opened
    nurse.goto(f"{base}/triage/")
    wait_live(nurse)
    card = nurse.locator(f'li[data-alert-id="{cast["alert"].pk}"]')

    # then the card shows the patient now (15, HIGH, worse since raised: +8) beside what it was raised for
    expect(card.locator(".now-total")).to_have_text("15")
    expect(card.locator(".now")).to_contain_text("worse since raised at")
    expect(card.locator(".now")).to_contain_text("(+8, was 7)")
    expect(card.locator(".raised-for")).to_contain_text("NEWS2 7 (high risk) when raised")
    expect(card.locator(".headline")).not_to_contain_text("NEWS2 7 at")
    expect(card).to_contain_text("Nobody owns this")
    screenshot(nurse, "triage-truth-now", publish=True)


def test_a_refused_resolve_says_why_on_the_card_and_the_timeline_records_a_note(live_platform, chromium):
    # given Alex's high alert, Alex still at 15
    base, cast = live_platform["url"], seed()
    nurse = log_in(chromium, base, "nurse")
    nurse.goto(f"{base}/triage/")
    wait_live(nurse)
    card = nurse.locator(f'li[data-alert-id="{cast["alert"].pk}"]')

    # when the nurse tries to resolve it with an outcome but no review time
    card.get_by_label("Outcome").select_option("advice_by_phone")
    card.get_by_role("button", name="Resolve").click()

    # then the card itself says why it was refused, and the alert is still there
    error = card.locator(".action-error")
    expect(error).to_be_visible(timeout=10000)
    expect(error).to_contain_text("still in this alert's band (NEWS2 15, high risk)")

    # when the nurse adds a note and opens the timeline
    card.get_by_label("Note").fill("Called Alex: breathless at rest, GP informed")
    card.get_by_role("button", name="Add note").click()
    timeline = card.locator("details.timeline")
    expect(timeline.locator("summary")).to_contain_text("Timeline (1)", timeout=10000)
    timeline.locator("summary").click()

    # then the note is there with who wrote it
    entry = timeline.locator('li[data-action="note"]')
    expect(entry).to_contain_text("Nia Hughes")
    expect(entry).to_contain_text("Called Alex: breathless at rest, GP informed")
    screenshot(nurse, "triage-timeline", publish=True)


def test_escalating_to_the_on_call_doctor_by_name_records_it_on_the_card(live_platform, chromium):
    # given Alex's high alert, and Dev Rao on call for the ward
    base, cast = live_platform["url"], seed()
    doctor = UserFactory(
        username="doctor", first_name="Dev", last_name="Rao", role=Role.CLINICIAN, email="dev@nhs.test"
    )
    cast["ward"].staff.add(doctor)
    now = timezone.now()
    Shift.objects.create(
        person=doctor,
        role=DutyRole.ON_CALL_DOCTOR,
        ward=cast["ward"],
        starts_at=now - dt.timedelta(hours=1),
        ends_at=now + dt.timedelta(hours=8),
    )
    nurse = log_in(chromium, base, "nurse")
    nurse.goto(f"{base}/triage/")
    wait_live(nurse)
    card = nurse.locator(f'li[data-alert-id="{cast["alert"].pk}"]')

    # when the nurse escalates to Dev Rao by name
    card.get_by_label("Escalate to").select_option(label="Dev Rao (on-call doctor)")
    card.get_by_role("button", name="Escalate").click()

    # then the card shows Dev Rao as owner, and the timeline says to whom and that he was e-mailed
    expect(card.locator(".owner")).to_contain_text("Dev Rao", timeout=10000)
    card.locator("details.timeline summary").click()
    expect(card.locator('li[data-action="escalated"]')).to_contain_text("Escalated – to Dev Rao (on-call doctor)")
    expect(card.locator('li[data-action="notified"]').first).to_contain_text("E-mail to Dev Rao")
    screenshot(nurse, "triage-escalated", publish=True)


def test_the_incoming_nurse_accepts_the_handover_and_the_outgoing_nurses_alerts_become_theirs(live_platform, chromium):
    # given Alex's alert owned by Nia, who has handed the ward over to Noor
    base, cast = live_platform["url"], seed()
    noor = UserFactory(username="noor", first_name="Noor", last_name="Next", role=Role.CLINICIAN)
    cast["ward"].staff.add(noor)
    alert_assign(alert=cast["alert"], user=cast["nurse"], assignee=cast["nurse"])
    handover_start(user=cast["nurse"], ward=cast["ward"], incoming=noor, note="Alex: GP visiting at 3")
    page = log_in(chromium, base, "noor")

    # when Noor opens the hand-over and accepts it
    page.goto(f"{base}/handover/?ward={cast['ward'].pk}")
    expect(page.locator(".pending-handover")).to_contain_text("Nia Hughes → Noor Next")
    expect(page.locator("#handover-alerts")).to_contain_text("Nia Hughes")
    screenshot(page, "handover", publish=True)
    page.get_by_role("button", name="Accept hand-over").click()

    # then the page says so, Alex's alert is Noor's, and its timeline records the hand-over
    expect(page.locator(".messages")).to_contain_text("1 open alert(s) are now yours")
    expect(page.locator(f'#handover-alerts tr[data-alert-id="{cast["alert"].pk}"] .owner')).to_have_text("Noor Next")
    cast["alert"].refresh_from_db()
    assert cast["alert"].assigned_to == noor
