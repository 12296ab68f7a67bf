"""The patient page in a real browser: charts read without a mouse and on a phone, a full
observation set with its NEWS2 before saving, clearing Scale 2 with a reason, rejected readings
in plain words, and a lock-out page that says how long and whom to call."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from patients.models import Observation
from tests.browser.conftest import screenshot
from tests.browser.test_dashboard_in_chromium import DESKTOP, PASSWORD, PHONE, log_in, seed_ward, wait_live
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("forget_failed_sign_ins"),
]


def open_patient(chromium: Any, base: str, patient: Any, viewport: dict[str, int] = DESKTOP, **context: Any) -> Any:
    page = chromium.new_context(viewport=viewport, **context).new_page()
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill("nurse")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/wards/**")
    page.goto(f"{base}/patients/{patient.pk}/")
    expect(page.locator('.chart-row[data-vital="heart_rate"] .point').first).to_be_attached(timeout=15000)
    return page


def test_chart_values_are_reachable_by_keyboard_with_a_value_axis_and_the_newest_value_written(live_platform, chromium):
    # given Alex's day of half-hourly readings
    base, cast = live_platform["url"], seed_ward()
    page = open_patient(chromium, base, cast["alex"])
    pulse = page.locator('.chart-row[data-vital="heart_rate"]')

    # then each strip has a value axis and its newest value written beside it
    expect(pulse.locator("text.tick")).to_have_count(5)
    expect(pulse.locator(".chart-latest")).to_have_text(_newest_pulse(cast["alex"]))

    # when the nurse tabs through the page without a mouse
    focused = ""
    for _ in range(80):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.getAttribute('aria-label') || ''")
        if focused.startswith("Pulse "):
            break
    # then a pulse reading takes the focus, named with its value and time (the newest first)
    assert focused.startswith(f"Pulse {_newest_pulse(cast['alex'])} at"), focused

    # and the arrow keys walk back along the strip, Home to the first reading
    page.keyboard.press("ArrowLeft")
    earlier = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert earlier.startswith("Pulse ") and earlier != focused
    expect(pulse.locator(".chart-picked")).to_contain_text("Selected:")
    page.keyboard.press("Home")
    first = page.evaluate("document.activeElement.getAttribute('aria-label')")
    assert first == pulse.locator(".point").first.get_attribute("aria-label")

    # and a live update redrawing the chart keeps the reader on the same reading
    page.evaluate("window.__before = document.activeElement; document.dispatchEvent(new Event('vw:event'))")
    page.wait_for_function(
        "() => document.activeElement !== window.__before && document.activeElement.classList.contains('point')",
        timeout=10000,
    )  # a new element: the chart was redrawn
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == first


def _newest_pulse(patient: Any) -> str:
    newest = Observation.objects.filter(patient=patient, type="heart_rate").latest("measured_at")
    value = int(newest.value) if float(newest.value).is_integer() else newest.value
    return f"{value} /min"


def test_the_same_readings_are_one_click_away_as_a_table(live_platform, chromium):
    base, cast = live_platform["url"], seed_ward()
    page = open_patient(chromium, base, cast["alex"])
    table = page.locator("#chart-table")
    expect(table).to_be_hidden()

    # when the table is asked for
    page.get_by_role("button", name="Show the readings as a table").click()
    toggle = page.locator("#table-toggle")

    # then it is shown, one row per time, with a column per vital sign and the late reading marked
    expect(table).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(toggle).to_have_text("Hide the table")
    alex = cast["alex"]
    since = timezone.now() - dt.timedelta(hours=24)  # the default period
    readings = Observation.objects.filter(patient=alex, measured_at__gte=since)
    times = {o.measured_at for o in readings} | {s.as_of for s in alex.scores.filter(as_of__gte=since)}
    expect(table.locator("tbody tr")).to_have_count(len(times))
    expect(table.locator("thead th")).to_contain_text(["Time", "Respiration rate", "SpO₂ (Scale 1)"])
    expect(table).to_contain_text("(late)")


def test_periods_run_from_one_hour_to_the_whole_stay(live_platform, chromium):
    base, cast = live_platform["url"], seed_ward()
    page = open_patient(chromium, base, cast["alex"])
    count = page.locator('.chart-row[data-vital="heart_rate"] .point')
    day = count.count()

    # when the last hour is chosen, only its readings are drawn (a fast change is not a smear)
    page.get_by_label("Period").select_option("1h")
    expect(count).to_have_count(
        Observation.objects.filter(
            patient=cast["alex"], type="heart_rate", measured_at__gte=timezone.now() - dt.timedelta(hours=1)
        ).count()
    )
    assert count.count() < day

    # and the whole stay goes back to admission
    page.get_by_label("Period").select_option("stay")
    expect(count).to_have_count(Observation.objects.filter(patient=cast["alex"], type="heart_rate").count())
    options = page.locator("#period option").all_inner_texts()
    assert options[0] == "Last 1 hour" and options[-1] == "Whole stay"


def test_on_a_phone_the_chart_is_readable_and_a_tap_reads_a_value(live_platform, chromium):
    # given the nurse on a 390 × 844 phone with a touch screen
    base, cast = live_platform["url"], seed_ward()
    page = open_patient(chromium, base, cast["alex"], viewport=PHONE, has_touch=True, is_mobile=True)

    # then nothing scrolls sideways, no strip heading is clipped, and points are not stretched
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    clipped = page.evaluate(
        """[...document.querySelectorAll('.chart-label, .chart-label *')]
             .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.textContent)"""
    )
    assert clipped == []
    stretch = page.evaluate(
        """[...document.querySelectorAll('.chart-row svg')].map(s => {
             const r = s.getBoundingClientRect(); return [r.width, +s.getAttribute('width')]; })"""
    )
    assert stretch and all(abs(shown - drawn) < 1 for shown, drawn in stretch), stretch
    dot = page.locator('.chart-row[data-vital="heart_rate"] circle.pt').first.bounding_box()
    assert abs(dot["width"] - dot["height"]) < 0.5, dot

    # when a pulse strip is tapped
    svg = page.locator('.chart-row[data-vital="heart_rate"] svg')
    svg.tap(position={"x": 300, "y": 40})

    # then the nearest reading is picked and its value shown in words
    expect(page.locator('.chart-row[data-vital="heart_rate"] .chart-picked')).to_contain_text("Selected:")
    screenshot(page, "patient-phone", publish=True)


def test_a_full_observation_set_shows_its_news2_before_saving_and_errors_beside_the_field(live_platform, chromium):
    # given the nurse on a patient's page with no fresh readings (Eve, newly admitted)
    base, cast = live_platform["url"], seed_ward()
    eve = cast["ward"].patients.get(given_name="Eve")
    page = open_patient_without_chart(chromium, base, eve)
    page.evaluate("window.__sameDocument = true")
    form = page.locator("#obs-set-form")

    # when a full set is typed, with an impossible SpO2
    for label, value in [("Respiration rate", "26"), ("SpO₂", "190"), ("Systolic", "95"), ("Pulse", "125"),
                         ("Temperature", "39.2")]:  # fmt: skip
        form.get_by_label(label).fill(value)
    form.get_by_label("Air or oxygen?").select_option("oxygen")
    form.get_by_label("Consciousness").select_option("A")

    # then the preview shows the score from the set without SpO2, with SpO2 missing, never normal
    preview = page.locator("#news2-preview")
    expect(preview).to_contain_text("missing SpO₂", timeout=10000)
    expect(preview.locator(".preview-score")).to_have_text("11")  # 3 + 2 + 2 + 2 + 0 + 2
    expect(page.locator("#id_spo2-error")).to_contain_text("outside the plausible range")

    # when it is saved anyway
    form.get_by_role("button", name="Record observation set").click()

    # then nothing is stored, the error stays beside the field, focus is on it, and no reload
    expect(page.locator("#obs-set-status")).to_contain_text("Not saved")
    expect(form.get_by_label("SpO₂")).to_be_focused()
    assert page.evaluate("window.__sameDocument") is True
    assert not Observation.objects.filter(patient=eve, entered_by__isnull=False).exists()
    screenshot(page, "patient-entry-error")

    # when corrected and saved
    form.get_by_label("SpO₂").fill("90")
    expect(preview.locator(".preview-score")).to_have_text("14", timeout=10000)
    form.get_by_role("button", name="Record observation set").click()

    # then the set is stored as one, at one time, and the form is ready for the next
    expect(page.locator("#obs-set-status")).to_contain_text("Observation set recorded")
    stored = Observation.objects.filter(patient=eve, entered_by=cast["nurse"])
    assert stored.count() == 7 and len({o.measured_at for o in stored}) == 1
    expect(form.get_by_label("Pulse")).to_have_value("")


def open_patient_without_chart(chromium: Any, base: str, patient: Any) -> Any:
    page = log_in(chromium, base, "nurse")
    page.goto(f"{base}/patients/{patient.pk}/")
    wait_live(page)
    return page


def test_clearing_scale_2_needs_a_reason_even_if_the_browser_check_is_bypassed(live_platform, chromium):
    # given Fay on Scale 2
    base, cast = live_platform["url"], seed_ward()
    fay = cast["ward"].patients.get(given_name="Fay")
    page = open_patient_without_chart(chromium, base, fay)
    scale = page.locator("#scale-form")
    expect(scale.get_by_label("Reason (required to clear Scale 2)")).to_have_attribute("required", "")

    # when the browser's own check is removed and Scale 2 is cleared with no reason
    page.evaluate("document.getElementById('scale-reason').removeAttribute('required')")
    scale.get_by_label("I have read the risk").check()
    scale.get_by_role("button", name="Clear Scale 2").click()

    # then the server refuses it, says why beside the field, and Fay stays on Scale 2
    expect(page.locator("#scale-reason-error")).to_contain_text("Give the reason for clearing Scale 2")
    fay.refresh_from_db()
    assert fay.spo2_scale == 2


def test_rejected_readings_read_in_plain_words_with_the_detail_one_click_away(live_platform, chromium):
    base, cast = live_platform["url"], seed_ward()
    page = open_patient(chromium, base, cast["alex"])

    page.get_by_label("Show rejected readings").check()

    rejected = page.locator("#rejections")
    expect(rejected).to_contain_text("The SpO2 reading was out of human range, so it was not used.")
    detail = rejected.get_by_text("spo2 value 150 outside 50-100 %")
    expect(detail).to_be_hidden()
    rejected.get_by_text("Technical detail").click()
    expect(detail).to_be_visible()
    screenshot(page, "patient", publish=True)


def test_the_lock_out_page_says_how_long_and_whom_to_call(live_platform, chromium, settings):
    # given a clinician who mistypes their password until locked out
    UserFactory(username="locked-nurse")
    page = chromium.new_context(viewport=PHONE).new_page()
    base = live_platform["url"]
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        page.goto(f"{base}/accounts/login/")
        page.get_by_label("Username").fill("locked-nurse")
        page.get_by_label("Password").fill("wrong-guess")
        page.get_by_role("button", name="Sign in").click()

    # then the page says signing in is paused, for how long, whom to call, and a way back
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"paused for {int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)} minutes")
    expect(page.locator("main")).to_contain_text("Call your IT service desk")
    expect(page.get_by_role("link", name="try again")).to_be_visible()
    screenshot(page, "locked-out")
