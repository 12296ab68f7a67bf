"""A patient pairs a device on a phone-sized screen and sees the first-reading confirmation."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from devices import broker_auth
from devices.credentials import claim_key_hash
from devices.ingest.batch import handle_message
from devices.pairing import pairing_code_issue
from tests.factories import DeviceFactory, PatientFactory, UserFactory
from virtualward.embedded import free_port

CHROMIUM = os.environ.get("VW_CHROMIUM", "/usr/bin/chromium")
PHONE = {"width": 390, "height": 844}


def first_reading() -> bytes:
    now = timezone.now().isoformat()
    return json.dumps(
        {"msg_id": str(uuid.uuid4()), "observations": [{"type": "spo2", "value": 95, "unit": "%", "measured_at": now}]}
    ).encode()


def deliver_first_reading(credentials: dict, broker) -> None:
    """The device's first reading: through the real broker when there is one, then the ingest entry point."""
    topic = credentials["topics"]["obs"]
    if broker is None:
        handle_message(topic, first_reading(), timezone.now())
        return
    from tests.broker.mqtt import Session

    account = broker_auth.platform_mqtt_account()
    platform = Session(broker.url, account.username, account.password)
    platform.subscribe("$share/vw-ingest/vw/v1/devices/+/obs")
    device = Session(broker.url, credentials["device_id"], credentials["secret"], client_id=credentials["device_id"])
    assert device.accepted, "the broker refused the credentials the device collected"
    device.publish(topic, first_reading())
    received = platform.next_message()
    assert received is not None
    handle_message(received[0], received[1], timezone.now())
    device.close(), platform.close()


@pytest.fixture
def maybe_broker(settings, tmp_path):
    if broker_auth.mosquitto_binary() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI requires mosquitto")
        yield None
        return
    port = free_port()
    settings.MQTT_URL = settings.MQTT_PUBLIC_URL = f"mqtt://127.0.0.1:{port}"
    with broker_auth.mosquitto_run(settings.MQTT_BROKER_DIR, port=port) as running:
        yield running


@pytest.mark.browser
def test_a_patient_pairs_a_device_on_a_phone_and_sees_the_first_reading_confirmed(
    live_server, transactional_db, maybe_broker, monkeypatch
):
    # given a patient whose nurse has issued a code, and a device in stock
    clinician, patient = UserFactory(), PatientFactory()
    patient.ward.staff.add(clinician)
    device = DeviceFactory(
        patient=None,
        paired_at=None,
        secret_hash="",
        serial="OX-448812",
        claim_key_hash=claim_key_hash("ox-factory-key"),
    )
    code = pairing_code_issue(patient=patient, user=clinician).code

    with phone_page(monkeypatch, "pairing-phone.png") as (page, expect):
        # when the patient enters the code and the device number, one screen each
        page.goto(f"{live_server.url}/pair/")
        expect(page.get_by_role("heading")).to_have_text("Enter the code from your nurse")
        page.get_by_label("Your code").fill(code.lower())
        page.get_by_role("button", name="Next").click()
        expect(page.get_by_role("heading")).to_have_text("Enter the number on the back of your device")
        page.get_by_label("Device number").fill(device.serial)
        page.get_by_role("button", name="Set up my device").click()
        expect(page.locator("#status-title")).to_have_text("Setting up your device…")

        # and the device collects its credentials and sends its first reading
        collected = page.request.post(
            f"{live_server.url}/api/v1/pairing/collect/",
            data={"serial": device.serial, "claim_key": "ox-factory-key"},
        )
        assert collected.status == 200
        deliver_first_reading(collected.json(), maybe_broker)

        # then the page says so in words, on a screen the size of a phone, without scrolling sideways
        expect(page.locator("#status-title")).to_have_text("We have received your first reading", timeout=15_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


@contextlib.contextmanager
def phone_page(monkeypatch, screenshot: str) -> Iterator[tuple[Any, Callable[..., Any]]]:
    """A phone-sized page in headless Chromium and Playwright's `expect`; the last screen is kept as `screenshot`."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires Chromium at {CHROMIUM}")
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    # Playwright's sync API keeps an event loop in this thread; the database calls between
    # browser steps are plain synchronous ones, one at a time.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
        try:
            yield page, sync_api.expect
        finally:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(live_server_artifact(screenshot)))
            browser.close()


def live_server_artifact(name: str) -> Path:
    folder = Path(__file__).resolve().parents[2] / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder / name
