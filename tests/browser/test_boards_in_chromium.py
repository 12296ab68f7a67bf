"""The boards at command-centre scale, in a real browser against the real platform processes.

A seeded board of 200 patients across 8 wards: the compact view fits at least 25 patients on a
1440×900 screen; a filter and a search narrow it and keep narrowing it through live updates that
arrive over MQTT, through ingest and scoring, to the socket; rows stay still under the pointer
until the operator re-sorts; and on a 390×844 phone the first screen is the sickest patients.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from accounts.models import Role
from alerts.models import Alert
from patients.models import Pathway
from scoring.models import EarlyWarningScore
from tests.browser.conftest import ARTIFACTS, ROOT
from tests.browser.test_dashboard_in_chromium import (
    DESKTOP,
    PHONE,
    log_in,
    publish_deterioration,
    publish_readings,
    wait_live,
)
from tests.factories import UserFactory, WardFactory
from tests.frontend.conftest import make_alert, make_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# Per 25 patients: 2 HIGH, 3 MEDIUM, 5 LOW–MEDIUM, 13 LOW (two of them silent), 2 never scored.
MIX = ["high"] * 2 + ["medium"] * 3 + ["low-medium"] * 5 + ["low"] * 13 + [None] * 2
FAMILY_NAMES = ["Ashworth", "Begum", "Clarke", "Davies", "Evans", "Fraser", "Green", "Hughes", "Iqbal", "Jones"]


def seed_command_centre() -> dict[str, Any]:
    """200 patients across 8 wards (4 respiratory, 4 frailty) and a command-centre operator."""
    UserFactory(username="command", first_name="Olu", last_name="Adeyemi", role=Role.OPERATOR)
    wards = [
        WardFactory(name=f"{'Respiratory' if n < 4 else 'Frailty'} ward {n + 1}", pathway=_pathway(n)) for n in range(8)
    ]
    patients = []
    for n in range(200):
        risk = MIX[n % len(MIX)]
        patient = make_patient(
            wards[n % 8],
            risk=risk,
            online=not (risk == "low" and n % 25 in (20, 22)),
            given_name=f"P{n:03d}",
            family_name=FAMILY_NAMES[n % len(FAMILY_NAMES)],
        )
        if risk == "high":
            make_alert(patient, title="NEWS2 7 – high")
        patients.append(patient)
    # Two to find by search, and two to change over MQTT during the tests.
    findme = make_patient(wards[2], risk="low", given_name="Wren", family_name="Findlay")
    calm = make_patient(wards[3], risk="low", given_name="Cal", family_name="Steadman")
    turning = make_patient(wards[5], risk="low", given_name="Tam", family_name="Turner")
    return {"wards": wards, "findme": findme, "calm": calm, "turning": turning, "patients": patients}


def _pathway(n: int) -> str:
    return Pathway.RESPIRATORY if n < 4 else Pathway.FRAILTY


def publish_normal(mqtt_url: str, device_id: str) -> None:
    vitals = [("respiratory_rate", 16, "/min"), ("spo2", 97, "%"), ("heart_rate", 72, "/min")]
    publish_readings(mqtt_url, device_id, vitals, battery=80)


def device_of(patient: Any) -> str:
    return patient.devices.get().device_id


def wait_for_new_score(patient: Any, before: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if EarlyWarningScore.objects.filter(patient=patient).count() > before:
            return
        time.sleep(0.2)
    raise AssertionError(f"no new score for {patient} within {timeout} s")


def settle(patient: Any, quiet_for: float = 2.0, timeout: float = 30) -> None:
    """Wait until ingest has finished with the patient (no new score or alert for a while).

    The test database is emptied after each test; a reading still being scored then would
    hold locks the emptying needs.
    """
    deadline, last, since = time.monotonic() + timeout, None, time.monotonic()
    while time.monotonic() < deadline:
        now = (EarlyWarningScore.objects.filter(patient=patient).count(), Alert.objects.filter(patient=patient).count())
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet_for:
            return
        time.sleep(0.2)


def rows_above_the_fold(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#live-root tbody tr.patient-row'))
             .filter(row => { const box = row.getBoundingClientRect();
                              return box.height > 0 && box.top >= 0 && box.bottom <= innerHeight; })
             .map(row => ({ id: row.dataset.patientId, risk: row.dataset.risk }))"""
    )


def patient_ids(page: Any) -> list[str]:
    return page.locator("#live-root tbody tr.patient-row").evaluate_all("rows => rows.map(r => r.dataset.patientId)")


def first_screen(page: Any, name: str) -> None:
    """What the operator sees without scrolling, published to docs/screenshots/ for the README."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    shutil.copy(path, ROOT / "docs" / "screenshots" / f"{name}.png")


def no_horizontal_scroll(page: Any) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_the_compact_board_shows_at_least_25_of_200_patients_on_one_1440_by_900_screen(live_platform, chromium):
    # given 200 patients across 8 wards, some with unacknowledged HIGH alerts (the banner is up)
    base = live_platform["url"]
    seed_command_centre()

    # when the command centre opens the all-wards board
    page = log_in(chromium, base, "command", viewport=DESKTOP)
    wait_live(page)
    expect(page.locator("#reminder")).to_be_visible(timeout=10000)

    # then the compact view is shown and at least 25 whole rows fit above the fold, sickest first
    expect(page.locator("table.board.compact")).to_be_visible()
    expect(page.locator("#live-root tbody tr.patient-row")).to_have_count(203)
    visible = rows_above_the_fold(page)
    print(f"compact rows above the fold at 1440×900: {len(visible)}")
    first_screen(page, "board-compact")
    assert len(visible) >= 25
    assert [row["risk"] for row in visible[:16]] == ["high"] * 16
    assert no_horizontal_scroll(page)

    # and the detailed view is one click away, kept in the URL
    page.get_by_label("Detailed").check()
    expect(page.locator("table.board.detailed")).to_be_visible(timeout=10000)
    assert "view=detailed" in page.url
    assert len(rows_above_the_fold(page)) < 25


def test_a_filter_and_a_search_work_and_survive_live_updates_over_mqtt(live_platform, chromium):
    # given the all-wards board of 200 patients
    base, cast = live_platform["url"], seed_command_centre()
    page = log_in(chromium, base, "command", viewport=DESKTOP)
    wait_live(page)
    rows = page.locator("#live-root tbody tr.patient-row")

    # when the operator filters to HIGH risk
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("◆ High").check()

    # then only the 16 HIGH patients are listed, and the URL says so
    expect(rows).to_have_count(16, timeout=10000)
    assert all(risk == "high" for risk in rows.evaluate_all("rows => rows.map(r => r.dataset.risk)"))
    assert "band=high" in page.url
    expect(page.locator("#board-summary")).to_contain_text("Showing 16 of 203 patients")

    # when a calm patient's device sends normal readings over MQTT (a live event outside the filter)
    calm, turning = cast["calm"], cast["turning"]
    before = EarlyWarningScore.objects.filter(patient=calm).count()
    publish_normal(live_platform["mqtt_url"], device_of(calm))
    wait_for_new_score(calm, before)
    # and another patient deteriorates to HIGH (a live event for one who newly matches)
    publish_deterioration(live_platform["mqtt_url"], device_of(turning))

    # then the deteriorating patient appears in the filtered board and the calm one never does
    expect(page.locator(f'tr[data-patient-id="{turning.pk}"]')).to_have_attribute("data-risk", "high", timeout=30000)
    expect(rows).to_have_count(17)
    expect(page.locator(f'tr[data-patient-id="{calm.pk}"]')).to_have_count(0)

    # when the operator clears the filter and searches by name
    page.get_by_role("link", name="Clear filters").click()
    page.get_by_label("Search name or NHS number").fill("wren find")

    # then only that patient is listed, and the search is in the URL
    expect(rows).to_have_count(1, timeout=10000)
    expect(rows.first).to_have_attribute("data-patient-id", str(cast["findme"].pk))
    assert "q=wren+find" in page.url and "band=" not in page.url

    # when another live update arrives over MQTT
    snapshots = page.evaluate("window.vwLive.snapshots")
    before = EarlyWarningScore.objects.filter(patient=calm).count()
    publish_normal(live_platform["mqtt_url"], device_of(calm))
    wait_for_new_score(calm, before)
    page.wait_for_function("n => window.vwLive.snapshots > n", arg=snapshots, timeout=30000)

    # then the search still holds
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-patient-id", str(cast["findme"].pk))

    # and the NHS number, typed with spaces, finds the patient too; a reload keeps the search
    number = cast["findme"].nhs_number
    page.get_by_label("Search name or NHS number").fill(f"{number[:3]} {number[3:6]} {number[6:]}")
    expect(page.locator("#board-summary")).to_contain_text(f"matching “{number[:3]} {number[3:6]}", timeout=10000)
    expect(rows).to_have_count(1)
    page.reload()
    expect(page.get_by_label("Search name or NHS number")).to_have_value(f"{number[:3]} {number[3:6]} {number[6:]}")
    expect(rows).to_have_count(1)
    settle(calm)
    settle(turning)


def test_rows_stay_still_under_the_pointer_or_focus_until_the_operator_re_sorts(live_platform, chromium):
    # given the board of 200, sickest first, and the operator pointing at the list
    base, cast = live_platform["url"], seed_command_centre()
    page = log_in(chromium, base, "command", viewport=DESKTOP)
    wait_live(page)
    order = patient_ids(page)
    turning = str(cast["turning"].pk)
    assert order.index(turning) > 100
    box = page.locator("#live-root tbody tr.patient-row").nth(3).bounding_box()
    page.mouse.move(box["x"] + 200, box["y"] + 5)

    # when a low-risk patient far down the list deteriorates to HIGH over MQTT
    publish_deterioration(live_platform["mqtt_url"], device_of(cast["turning"]))

    # then their row turns HIGH where it is, nothing jumps, and the re-sort bar says what waits
    row = page.locator(f'tr[data-patient-id="{turning}"]')
    expect(row).to_have_attribute("data-risk", "high", timeout=30000)
    page.mouse.move(box["x"] + 210, box["y"] + 6)
    held = patient_ids(page)
    assert held == order
    expect(page.locator("#resort")).to_be_visible()
    expect(page.locator("#resort")).to_contain_text("1 change waiting, including a patient now HIGH risk")
    first_screen(page, "board-resort")

    # when the operator presses re-sort
    page.get_by_role("button", name="Re-sort now").click()

    # then the patient moves up among the HIGH patients and the bar goes
    expect(page.locator("#resort")).to_be_hidden()
    resorted = patient_ids(page)
    assert resorted.index(turning) < 20

    # given, with the mouse away, keyboard focus on a patient's link in the list
    page.mouse.move(5, 5)
    page.locator("#live-root tbody tr.patient-row").nth(3).locator("a.patient-name").focus()
    calm = str(cast["calm"].pk)
    # when another patient far down deteriorates
    publish_deterioration(live_platform["mqtt_url"], device_of(cast["calm"]))
    # then the order holds while focus is in the list
    expect(page.locator(f'tr[data-patient-id="{calm}"]')).to_have_attribute("data-risk", "high", timeout=30000)
    assert patient_ids(page) == resorted
    expect(page.locator("#resort")).to_be_visible()
    # and when focus leaves the list, the new order is applied by itself
    page.get_by_label("Search name or NHS number").focus()
    expect(page.locator("#resort")).to_be_hidden()
    assert patient_ids(page).index(calm) < 20
    settle(cast["turning"])
    settle(cast["calm"])


def test_on_a_phone_the_first_screen_is_the_sickest_patients_and_nothing_scrolls_sideways(live_platform, chromium):
    # given the board of 200 on a 390×844 phone
    base, cast = live_platform["url"], seed_command_centre()
    page = log_in(chromium, base, "command", viewport=PHONE)
    wait_live(page)
    expect(page.locator("#reminder")).to_be_visible(timeout=10000)

    # then the first screen is patients, the sickest first, and the page never scrolls sideways
    visible = rows_above_the_fold(page)
    print(f"compact rows above the fold at 390×844: {len(visible)}")
    assert len(visible) >= 5
    assert all(row["risk"] == "high" for row in visible)
    first_row = page.locator("#live-root tbody tr.patient-row").first.bounding_box()
    assert first_row["y"] < 844 / 2, "the header, banner and tools take less than half the first screen"
    assert no_horizontal_scroll(page)
    first_screen(page, "board-phone")

    # and so do the detailed view and a single ward's board
    page.goto(f"{base}/wards/?view=detailed")
    wait_live(page)
    assert no_horizontal_scroll(page)
    page.goto(f"{base}/wards/{cast['wards'][0].pk}/")
    wait_live(page)
    assert no_horizontal_scroll(page)
    expect(page.locator("#live-root tbody tr.patient-row").first).to_have_attribute("data-risk", "high")


def test_a_shared_board_address_opens_the_same_board(live_platform, chromium):
    # given a board address with a filter, a sort and the detailed view
    base, cast = live_platform["url"], seed_command_centre()
    page = log_in(chromium, base, "command", viewport=DESKTOP)
    frailty = [ward for ward in cast["wards"] if ward.pathway == Pathway.FRAILTY]

    # when it is opened
    page.goto(f"{base}/wards/?pathway=frailty&band=medium&sort=name&view=detailed&ward={frailty[0].pk}")
    wait_live(page)

    # then the form shows that state and the board lists exactly what it asks for, by name
    expect(page.get_by_label("Detailed")).to_be_checked()
    expect(page.locator("#board-sort")).to_have_value("name")
    rows = page.locator("#live-root tbody tr.patient-row")
    expect(rows.first).to_be_visible()
    risks = rows.evaluate_all("rows => rows.map(r => r.dataset.risk)")
    assert risks and set(risks) == {"medium"}
    names = rows.locator(".patient-name").all_inner_texts()
    family = [name.split()[-1] for name in names]
    assert family == sorted(family)
    assert all(frailty[0].name in text for text in rows.locator(".patient-ids").all_inner_texts())
