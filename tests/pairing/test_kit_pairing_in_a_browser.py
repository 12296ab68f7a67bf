"""A patient pairs a two-device kit with one code on a phone and sees each first reading confirmed."""

from __future__ import annotations

import pytest
from django.utils import timezone

from devices.credentials import claim_key_hash
from devices.ingest.batch import handle_message
from devices.pairing import pairing_code_issue
from tests.factories import DeviceFactory, PatientFactory, UserFactory
from tests.pairing.test_pairing_in_a_browser import PHONE, first_reading, phone_page


@pytest.mark.browser
def test_one_code_pairs_a_kit_and_each_device_is_named_and_confirmed(live_server, transactional_db, monkeypatch):
    # given a code for a patient and a patch and a cuff in stock
    clinician, patient = UserFactory(), PatientFactory()
    patient.ward.staff.add(clinician)
    patch = DeviceFactory(patient=None, paired_at=None, secret_hash="", kind="wearable_patch", serial="PA-1",
                          claim_key_hash=claim_key_hash("patch-key"))  # fmt: skip
    cuff = DeviceFactory(patient=None, paired_at=None, secret_hash="", kind="bp_monitor", serial="BP-2",
                         claim_key_hash=claim_key_hash("cuff-key"))  # fmt: skip
    code = pairing_code_issue(patient=patient, user=clinician).code

    with phone_page(monkeypatch, "pairing-kit-phone.png") as (page, expect):
        # when the patient enters the code and the patch's number, then the cuff's number alone
        page.goto(f"{live_server.url}/pair/")
        page.get_by_label("Your code").fill(code)
        page.get_by_role("button", name="Next").click()
        page.get_by_label("Device number").fill(patch.serial)
        page.get_by_role("button", name="Set up my device").click()
        expect(page.locator("#device-name")).to_contain_text("Wearable patch")
        page.get_by_label("Another device? Enter the number on its back").fill(cuff.serial)
        page.get_by_role("button", name="Set up this device too").click()

        # then both devices are named on the page
        kit = page.locator("#kit-list")
        expect(kit).to_contain_text("Wearable patch")
        expect(kit).to_contain_text("Blood-pressure monitor")

        # when the cuff collects its credentials and sends its first reading
        collected = page.request.post(
            f"{live_server.url}/api/v1/pairing/collect/", data={"serial": cuff.serial, "claim_key": "cuff-key"}
        )
        assert collected.status == 200
        handle_message(collected.json()["topics"]["obs"], first_reading(), timezone.now())

        # then the cuff's own line confirms it, while the patch is still being set up
        cuff_line = kit.locator("li").filter(has_text="Blood-pressure monitor")
        expect(cuff_line).to_contain_text("First reading received", timeout=15_000)
        expect(kit.locator("li").filter(has_text="Wearable patch")).to_contain_text("Setting up")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
