"""The command centre's screens in a real browser, against the real platform processes.

A reading published over MQTT is stored by the ingest service, scored and alerted on, and the
open ward board turns the patient red without a reload; acknowledging from the triage queue
stops the reminder in a second browser. Screenshots of each screen are saved as artefacts.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from alerts.models import Alert, AlertState
from devices.models import Connectivity, ConnectivityGap, IngestRejection
from tests.browser.conftest import screenshot
from tests.factories import DeviceFactory, ObservationFactory, UserFactory, WardFactory
from tests.frontend.conftest import make_alert, make_patient, make_score, new_patient

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct-horse-battery"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def seed_ward() -> dict[str, Any]:
    ward = WardFactory(name="Respiratory Virtual Ward")
    nurse = UserFactory(username="nurse", first_name="Nia", last_name="Hughes", role=Role.CLINICIAN)
    ward.staff.add(nurse)
    operator = UserFactory(username="command", first_name="Olu", last_name="Adeyemi", role=Role.OPERATOR)
    alex = new_patient(ward, given_name="Alex", family_name="Breathless")
    oximeter = DeviceFactory(
        patient=alex,
        connectivity=Connectivity.ONLINE,
        battery=64,
        last_reading_at=timezone.now(),
        last_seen_at=timezone.now(),
        expected_interval_s=1800,
    )
    _history(alex, oximeter)
    make_score(alex, total=1, risk="low", minutes_ago=90)
    make_score(alex, total=2, risk="low", minutes_ago=5)
    medium = make_patient(ward, risk="medium", given_name="Bea", family_name="Frail")
    make_alert(medium, severity=40, title="NEWS2 5 – medium risk")
    make_patient(ward, risk="low", given_name="Cy", family_name="Steady")
    make_patient(ward, risk="low", online=False, given_name="Dee", family_name="Quiet")
    make_patient(ward, risk=None, given_name="Eve", family_name="Newadmit")
    copd = make_patient(ward, risk=None, given_name="Fay", family_name="Copd", spo2_scale=2)
    make_score(
        copd, total=3, risk="low-medium", complete=False, missing=["spo2", "on_oxygen", "systolic_bp", "consciousness"]
    )
    return {"ward": ward, "nurse": nurse, "operator": operator, "alex": alex, "oximeter": oximeter}


def _history(patient: Any, device: Any) -> None:
    """A day of half-hourly readings with a four-hour silence and one late upload in it."""
    now = timezone.now()
    normal = {"respiratory_rate": 16, "spo2": 96, "heart_rate": 78, "temperature": 36.8, "systolic_bp": 128}
    for step in range(48):
        at = now - dt.timedelta(minutes=30 * (48 - step))
        if 14 <= step < 22:
            continue  # the device was silent
        drift = step / 48
        for kind, value in normal.items():
            wobble = (step % 5 - 2) * (0.1 if kind == "temperature" else 1)
            ObservationFactory(
                patient=patient,
                device=device,
                type=kind,
                value=round(value + wobble + drift * 3, 1),
                measured_at=at,
                received_at=at + (dt.timedelta(hours=2) if step == 23 else dt.timedelta()),
                is_late=step == 23,
                msg_id=f"hist-{step}",
                msg_index=list(normal).index(kind),
            )
    ConnectivityGap.objects.create(
        device=device,
        patient=patient,
        cause=ConnectivityGap.Cause.TIMEOUT,
        started_at=now - dt.timedelta(minutes=30 * (48 - 13)),
        ended_at=now - dt.timedelta(minutes=30 * (48 - 22)),
    )
    IngestRejection.objects.create(
        device=device,
        topic=f"vw/v1/devices/{device.device_id}/obs",
        msg_id="hist-30",
        index=1,
        reason="spo2 value 150 outside 50-100 %",
        received_at=now - dt.timedelta(hours=8),
    )


def publish_deterioration(mqtt_url: str, device_id: str) -> None:
    vitals = [
        ("respiratory_rate", 26, "/min"),
        ("spo2", 90, "%"),
        ("heart_rate", 125, "/min"),
        ("temperature", 39.2, "Cel"),
        ("systolic_bp", 95, "mm[Hg]"),
    ]
    publish_readings(mqtt_url, device_id, vitals, battery=63)


def publish_readings(mqtt_url: str, device_id: str, vitals: list[tuple[str, float, str]], battery: int) -> None:
    """One reading of `vitals` (type, value, unit), sent over MQTT as the device would send it."""
    now = timezone.now().isoformat()
    payload = {
        "msg_id": str(uuid.uuid4()),
        "sent_at": now,
        "battery": battery,
        "observations": [{"type": t, "value": v, "unit": u, "measured_at": now} for t, v, u in vitals],
    }
    host, port = mqtt_url.split("://")[1].split(":")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id)
    client.connect(host, int(port))
    client.loop_start()
    client.publish(f"vw/v1/devices/{device_id}/obs", json.dumps(payload), qos=1).wait_for_publish(timeout=10)
    client.loop_stop()
    client.disconnect()


def log_in(browser: Any, base: str, username: str, viewport: dict[str, int] = DESKTOP) -> Any:
    page = browser.new_context(viewport=viewport).new_page()
    page.on("console", lambda msg: print(f"[{username} console] {msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: print(f"[{username} page error] {exc}"))
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/wards/**")
    return page


def wait_live(page: Any) -> None:
    expect(page.locator("body")).to_have_attribute("data-live", "live", timeout=15000)


def test_a_reading_over_mqtt_turns_the_patient_red_and_acknowledging_stops_reminders_everywhere(
    live_platform, chromium
):
    # given the nurse's ward board open, with Alex at low risk
    base, cast = live_platform["url"], seed_ward()
    nurse = log_in(chromium, base, "nurse")
    wait_live(nurse)
    alex_row = nurse.locator(f'tr[data-patient-id="{cast["alex"].pk}"]')
    expect(alex_row).to_have_attribute("data-risk", "low")
    nurse.evaluate("window.__sameDocument = true")

    # when Alex's oximeter publishes a deteriorating set of vitals over MQTT
    publish_deterioration(live_platform["mqtt_url"], cast["oximeter"].device_id)

    # then, without a reload, Alex turns red, moves to the top and the reminder starts
    expect(alex_row).to_have_attribute("data-risk", "high", timeout=30000)
    assert nurse.evaluate("window.__sameDocument") is True
    expect(nurse.locator("tbody tr").first).to_have_attribute("data-patient-id", str(cast["alex"].pk))
    expect(nurse.locator("#reminder")).to_be_visible(timeout=10000)
    # and the reminder says whose alert it is, not just "NEWS2 7: high risk"
    expect(nurse.locator("#reminder")).to_contain_text(cast["alex"].name)
    screenshot(nurse, "ward", publish=True)
    phone = log_in(chromium, base, "nurse", viewport=PHONE)
    wait_live(phone)
    screenshot(phone, "ward-phone", publish=True)

    # and given a second browser (the command centre) reminding about the alert
    command = log_in(chromium, base, "command")
    wait_live(command)
    expect(command.locator("#reminder")).to_be_visible(timeout=10000)
    alert = Alert.objects.get(patient=cast["alex"], state=AlertState.OPEN, severity=50)

    # when the nurse acknowledges it from the triage queue with one click
    nurse.goto(f"{base}/triage/")
    wait_live(nurse)
    card = nurse.locator(f'li[data-alert-id="{alert.pk}"]')
    expect(card).to_be_visible()
    screenshot(nurse, "triage", publish=True)
    card.get_by_role("button", name="Acknowledge").click()
    print("ERRTEXT", nurse.locator(".action-error").all_inner_texts())

    # then the reminder stops in the other browser too, and the acknowledgement is recorded
    expect(command.locator("#reminder")).to_be_hidden(timeout=10000)
    expect(nurse.locator("#reminder")).to_be_hidden(timeout=10000)
    expect(nurse.locator(f'li[data-alert-id="{alert.pk}"]')).to_have_attribute("data-state", "acknowledged")
    alert.refresh_from_db()
    assert alert.state == AlertState.ACKNOWLEDGED and alert.acknowledged_by == cast["nurse"]


def test_a_board_that_loses_its_connection_says_so_and_catches_up_on_what_it_missed(live_platform, chromium):
    # given the command centre's board, live
    base, cast = live_platform["url"], seed_ward()
    page = log_in(chromium, base, "command")
    wait_live(page)

    # when the connection drops and cannot come back for a while
    page.evaluate(
        """() => {
          window.__RealWebSocket = window.WebSocket;
          window.WebSocket = function () {
            const fake = { readyState: 3, send() {}, close() {} };
            setTimeout(() => fake.onclose && fake.onclose({ code: 1006 }), 10);
            return fake;
          };
          window.WebSocket.OPEN = 1;
          window.vwLive.socket.close();
        }"""
    )

    # then the page says its data may be out of date
    expect(page.locator("#live-status")).to_contain_text("data may be out of date since", timeout=10000)

    # when an alert is raised during the outage and the network comes back
    missed = make_alert(cast["alex"], title="Fall detected", kind="fall")
    page.evaluate("() => { window.WebSocket = window.__RealWebSocket; }")

    # then the board reconnects by itself and shows the alert it missed
    wait_live(page)
    expect(page.locator(f'[data-alert-id="{missed.pk}"]')).to_be_visible(timeout=30000)
    expect(page.locator("#reminder")).to_contain_text("Fall detected")


def test_the_patient_chart_shows_gaps_late_readings_and_rejections_on_demand(live_platform, chromium):
    # given Alex's day of readings with a silence, a late upload and a rejected reading
    base, cast = live_platform["url"], seed_ward()
    page = log_in(chromium, base, "nurse")

    # when the nurse opens Alex's page
    page.goto(f"{base}/patients/{cast['alex'].pk}/")
    wait_live(page)

    # then every vital has a strip, the line is broken at the silence and the late reading is marked
    pulse = page.locator('.chart-row[data-vital="heart_rate"] path.line')
    expect(pulse).to_have_count(1, timeout=10000)
    assert pulse.get_attribute("d").count("M") == 2, "half-hourly readings join; a four-hour silence breaks the line"
    expect(page.locator('.chart-row[data-vital="heart_rate"] rect.pt-late')).to_have_count(1)
    expect(page.locator(".chart-row[data-vital]")).to_have_count(8)

    # when rejected readings are asked for
    page.get_by_label("Show rejected readings").check()

    # then they are listed with their reason
    expect(page.locator("#rejections")).to_contain_text("spo2 value 150 outside 50-100 %")
    screenshot(page, "patient", publish=True)
