"""A patient pairs a two-device kit with one code on a phone and sees each first reading confirmed."""

from __future__ import annotations

import contextlib
import os

import pytest
from django.utils import timezone

from devices.credentials import claim_key_hash
from devices.ingest.batch import handle_message
from devices.pairing import pairing_code_issue
from tests.factories import DeviceFactory, PatientFactory, UserFactory
from tests.pairing.test_pairing_in_a_browser import CHROMIUM, PHONE, first_reading, live_server_artifact


@pytest.mark.browser
def test_one_code_pairs_a_kit_and_each_device_is_named_and_confirmed(live_server, transactional_db, monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires Chromium at {CHROMIUM}")
        pytest.skip(f"Chromium is not installed at {CHROMIUM}")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    # given a code for a patient and a patch and a cuff in stock
    clinician, patient = UserFactory(), PatientFactory()
    patient.ward.staff.add(clinician)
    patch = DeviceFactory(patient=None, paired_at=None, secret_hash="", kind="wearable_patch", serial="PA-1",
                          claim_key_hash=claim_key_hash("patch-key"))  # fmt: skip
    cuff = DeviceFactory(patient=None, paired_at=None, secret_hash="", kind="bp_monitor", serial="BP-2",
                         claim_key_hash=claim_key_hash("cuff-key"))  # fmt: skip
    code = pairing_code_issue(patient=patient, user=clinician).code

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
        try:
            # when the patient enters the code and the patch's number, then the cuff's number alone
            page.goto(f"{live_server.url}/pair/")
            page.get_by_label("Your code").fill(code)
            page.get_by_role("button", name="Next").click()
            page.get_by_label("Device number").fill(patch.serial)
            page.get_by_role("button", name="Set up my device").click()
            sync_api.expect(page.locator("#device-name")).to_contain_text("Wearable patch")
            page.get_by_label("Another device? Enter the number on its back").fill(cuff.serial)
            page.get_by_role("button", name="Set up this device too").click()

            # then both devices are named on the page
            kit = page.locator("#kit-list")
            sync_api.expect(kit).to_contain_text("Wearable patch")
            sync_api.expect(kit).to_contain_text("Blood-pressure monitor")

            # when the cuff collects its credentials and sends its first reading
            collected = page.request.post(
                f"{live_server.url}/api/v1/pairing/collect/", data={"serial": cuff.serial, "claim_key": "cuff-key"}
            )
            assert collected.status == 200
            handle_message(collected.json()["topics"]["obs"], first_reading(), timezone.now())

            # then the cuff's own line confirms it, while the patch is still being set up
            cuff_line = kit.locator("li").filter(has_text="Blood-pressure monitor")
            sync_api.expect(cuff_line).to_contain_text("First reading received", timeout=15_000)
            sync_api.expect(kit.locator("li").filter(has_text="Wearable patch")).to_contain_text("Setting up")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        finally:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(live_server_artifact("pairing-kit-phone.png")))
            browser.close()
