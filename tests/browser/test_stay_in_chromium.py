"""A stay from the screens, in Chromium: a clinician admits a patient with one form, and a
discharge from the patient's page ends monitoring and lists the kit to collect."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Role
from alerts.models import Alert, AlertState, Category, Severity
from devices.models import Device
from patients.models import Patient
from tests.browser.conftest import screenshot
from tests.browser.test_access_in_chromium import sign_in, watched_page
from tests.factories import DeviceFactory, PatientFactory, UserFactory, WardFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_clinician_admits_a_patient_from_the_admission_screen(live_platform, chromium):
    # given a clinician of a frailty ward
    ward = WardFactory(name="Frailty Virtual Ward", pathway="frailty", beds=10)
    nurse = UserFactory(username="admitting-nurse", role=Role.CLINICIAN)
    ward.staff.add(nurse)
    problems: list[str] = []
    page = watched_page(chromium, problems)
    base = live_platform["url"]
    sign_in(page, base, "admitting-nurse")

    # when they fill in the one admission form, with a mistake first
    page.goto(f"{base}/patients/admit/")
    page.get_by_label("Ward", exact=True).select_option(label="Frailty Virtual Ward")
    page.get_by_label("NHS number").fill("943 476 5918")  # fails its check digit
    page.get_by_label("Given name").fill("Edna")
    page.get_by_label("Family name").fill("Pryor")
    page.get_by_label("Date of birth").fill("1938-04-09")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Referred from").select_option("care_home")
    page.get_by_label("Reason for admission").fill("Frailty with UTI; reduced mobility")
    page.get_by_role("button", name="Admit").click()
    expect(page.get_by_text("This NHS number fails its Modulus 11 check digit.")).to_be_visible()
    page.get_by_label("NHS number").fill("943 476 5919")
    page.get_by_role("button", name="Admit").click()

    # then the patient's page shows them with their age, on a step-up stay from a care home
    expect(page.get_by_role("heading", level=1)).to_contain_text("Edna Pryor")
    patient = Patient.objects.get(nhs_number="9434765919")
    expect(page.locator("h1 .age-sex")).to_have_text(f"{patient.age} F")
    stay = page.locator("#stay")
    expect(stay).to_contain_text("Step-up (admission avoidance) from Care home")
    expect(stay).to_contain_text("Frailty with UTI")
    assert patient.stays.get().admitted_by == nurse
    screenshot(page, "stay-admitted")
    # the refused first try answered 400 on purpose; nothing else went wrong
    assert [p for p in problems if "status of 400" not in p] == []


def test_discharge_from_the_patients_page_ends_monitoring_and_lists_the_kit(live_platform, chromium):
    # given a patient with two paired devices and a device-offline alert
    ward = WardFactory(name="Respiratory Virtual Ward", beds=10)
    nurse = UserFactory(username="discharging-nurse", role=Role.CLINICIAN)
    ward.staff.add(nurse)
    patient = PatientFactory(ward=ward, given_name="Ray", family_name="Dunn", postcode="LS6 2AB")
    patch = DeviceFactory(patient=patient, kind="wearable_patch", serial="SN-PATCH-1", secret_hash="$7$x")
    cuff = DeviceFactory(patient=patient, kind="bp_monitor", serial="SN-CUFF-1", secret_hash="$7$x")
    now = timezone.now()
    offline = Alert.objects.create(
        kind="device_offline", category=Category.TECHNICAL, severity=Severity.LOW, patient=patient, device=cuff,
        title="Device offline", opened_at=now, updated_at=now,
    )  # fmt: skip
    problems: list[str] = []
    page = watched_page(chromium, problems)
    base = live_platform["url"]
    sign_in(page, base, "discharging-nurse")

    # when the clinician discharges the patient, recovered, from their page
    page.goto(f"{base}/patients/{patient.pk}/")
    page.get_by_text(f"Discharge {patient.name}").click()
    expect(page.locator("#discharge-details")).to_contain_text("2 devices will be disconnected")
    page.get_by_label("Outcome").select_option("recovered")
    page.get_by_label("I understand discharge disconnects every device").check()
    page.get_by_role("button", name="Discharge and end monitoring").click()

    # then the page says so and lists the kit to collect
    expect(page.locator("#stay")).to_contain_text("Discharged")
    kit = page.locator(".kit-list")
    expect(kit).to_contain_text("SN-PATCH-1")
    expect(kit).to_contain_text("SN-CUFF-1")
    screenshot(page, "stay-discharged")
    # and monitoring has ended: devices revoked without secrets, the technical alert closed
    for device in Device.objects.filter(pk__in=[patch.pk, cuff.pk]):
        assert device.revoked_at is not None and device.secret_hash == ""
    offline.refresh_from_db()
    assert offline.state == AlertState.RESOLVED

    # when the kit team brings the patch back, then it leaves the list
    kit.get_by_role("listitem").filter(has_text="SN-PATCH-1").get_by_role("button", name="Mark collected").click()
    expect(page.locator(".kit-list")).not_to_contain_text("SN-PATCH-1")
    assert problems == []
