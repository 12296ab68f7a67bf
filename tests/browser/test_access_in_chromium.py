"""Access as a real browser meets it: every screen works under the platform's
Content-Security-Policy (Chromium reports no violation and no script error on any of them), and
signing out in one tab takes the patient data off the screen in every other."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from accounts.models import Role
from tests.factories import UserFactory, WardFactory
from tests.frontend.conftest import make_alert, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery"


def watched_page(browser: Any, problems: list[str]) -> Any:
    page = browser.new_context().new_page()
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text or msg.type == "error" else None,
    )
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return page


def sign_in(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def test_every_screen_runs_under_the_policy_without_a_violation(live_platform, chromium):
    # given a ward with a patient and an open alert, a clinician and an administrator
    ward = WardFactory(name="Respiratory Virtual Ward")
    nurse = UserFactory(username="csp-nurse", role=Role.CLINICIAN)
    ward.staff.add(nurse)
    patient = make_patient(ward, risk="medium", given_name="Bea", family_name="Frail")
    make_alert(patient, severity=40, title="NEWS2 5 – medium risk")
    get_user_model().objects.create_superuser("csp-admin", password=PASSWORD)
    base, problems = live_platform["url"], []

    # when the clinician opens every screen, the anonymous pairing page and the API docs are
    # opened, and an administrator opens the admin site
    page = watched_page(chromium, problems)
    sign_in(page, base, "csp-nurse")
    for path in (f"/wards/{ward.pk}/", "/triage/", "/triage/summary/", f"/patients/{patient.pk}/"):
        page.goto(f"{base}{path}")
        expect(page.locator("main")).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-live", "live", timeout=15000)  # the websocket
    expect(page.locator("svg").first).to_be_attached(timeout=15000)  # charts drawn by charts.js
    page.goto(f"{base}/patients/{patient.pk}/pairing-code/")
    page.get_by_role("button", name="Issue").first.click()
    expect(page.locator("#pairing-code")).to_be_visible()
    anonymous = watched_page(chromium, problems)
    anonymous.goto(f"{base}/pair/")
    expect(anonymous.get_by_role("heading")).to_have_text("Enter the code from your nurse")
    anonymous.goto(f"{base}/api/v1/docs/")
    expect(anonymous.locator(".swagger-ui .info")).to_be_visible(timeout=15000)
    admin = watched_page(chromium, problems)
    sign_in(admin, base, "csp-admin")
    admin.goto(f"{base}/admin/devices/device/")
    expect(admin.locator("#changelist")).to_be_visible()

    # then nothing was refused by the policy and no script failed
    assert problems == []


def test_signing_out_in_one_tab_sends_every_other_tab_to_the_sign_in_page(live_platform, chromium):
    # given a clinician with their ward board live in one tab
    ward = WardFactory(name="Frailty Virtual Ward")
    nurse = UserFactory(username="tab-nurse", role=Role.CLINICIAN)
    ward.staff.add(nurse)
    make_patient(ward, risk="low", given_name="Cy", family_name="Steady")
    base, problems = live_platform["url"], []
    board = watched_page(chromium, problems)
    sign_in(board, base, "tab-nurse")
    board.goto(f"{base}/wards/{ward.pk}/")
    expect(board.locator("body")).to_have_attribute("data-live", "live", timeout=15000)
    expect(board.get_by_text("Steady").first).to_be_visible()

    # when they sign out in a second tab of the same browser
    other_tab = board.context.new_page()
    other_tab.goto(f"{base}/triage/")
    other_tab.get_by_role("button", name="Sign out").click()

    # then the board's socket is closed and the board tab goes to the sign-in page
    board.wait_for_url(f"{base}/accounts/login/?next=%2Fwards%2F{ward.pk}%2F", timeout=10000)
    expect(board.get_by_text("Steady")).to_have_count(0)
