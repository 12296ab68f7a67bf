"""Outage incidents on the triage screen in a real browser: acknowledged and owned like an alert."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import AuditEvent, Role
from alerts.models import Alert, ConnectivityIncident, IncidentMember
from devices.connectivity import sweep_connectivity
from tests.browser.test_dashboard_in_chromium import log_in, wait_live
from tests.factories import UserFactory, WardFactory
from tests.outage.builders import heard, hub_fleet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _outage() -> ConnectivityIncident:
    ward = WardFactory(name="Respiratory Virtual Ward")
    UserFactory(username="operator", first_name="Olu", last_name="Adeyemi", role=Role.OPERATOR)
    UserFactory(username="senior", first_name="Sam", last_name="Okafor", role=Role.OPERATOR)
    now = timezone.now()
    lost = hub_fleet(ward, 6, operator="23415", risks=["high", "medium", "low", "low", "low", "low"])
    heard(lost, now - dt.timedelta(minutes=5))
    sweep_connectivity(now=now)
    return ConnectivityIncident.objects.get()


def test_the_operator_acknowledges_an_incident_on_the_triage_screen_and_a_refusal_is_said_on_its_card(
    live_platform, chromium
):
    # given six hubs on one mobile network silent together: one incident on the triage screen
    base, incident = live_platform["url"], _outage()
    page = log_in(chromium, base, "operator")
    page.goto(f"{base}/triage/")
    wait_live(page)
    card = page.locator(f'section[data-incident-id="{incident.pk}"]')
    expect(card).to_contain_text("Not acknowledged")
    expect(card).to_contain_text("no owner")

    # when the operator acknowledges it
    card.get_by_role("button", name="Acknowledge incident").click()

    # then the card says who has it, and the button is gone
    expect(card.locator(".incident-owner")).to_contain_text("Acknowledged by Olu Adeyemi", timeout=10000)
    expect(card.locator(".owner")).to_have_text("Olu Adeyemi")
    expect(card.get_by_role("button", name="Acknowledge incident")).to_have_count(0)
    # and every folded dropout is acknowledged and owned with it
    folded = Alert.objects.filter(pk__in=IncidentMember.objects.filter(incident=incident).values("alert_id"))
    assert set(folded.values_list("state", "assigned_to__username")) == {("acknowledged", "operator")}

    # when they try to give it to its owner again, the card says why that was refused
    card.get_by_label("Assign incident to").select_option(label="Olu Adeyemi")
    error = card.locator(".action-error")
    expect(error).to_be_visible(timeout=10000)
    expect(error).to_contain_text("already assigned to Olu Adeyemi")

    # and handing it to the senior moves it
    card.get_by_label("Assign incident to").select_option(label="Sam Okafor")
    expect(card.locator(".owner")).to_have_text("Sam Okafor", timeout=10000)
    assert ConnectivityIncident.objects.get().assigned_to.username == "senior"


PHONE = {"width": 390, "height": 844}


def test_the_not_spot_and_kit_task_pages_work_on_a_phone_from_the_navigation(live_platform, chromium):
    # given a ward whose patients' kit dropped, in two postcode districts, and one kit-team task
    from devices.models import ConnectivityGap, KitTask
    from tests.factories import DeviceFactory
    from tests.frontend.conftest import new_patient

    ward = WardFactory(name="Respiratory Virtual Ward")
    nurse = UserFactory(username="nurse", first_name="Nia", last_name="Hughes", role=Role.CLINICIAN)
    ward.staff.add(nurse)
    now = timezone.now()
    for postcode, drops in (("LS1 4AP", 3), ("LS6 2QT", 1)):
        patient = new_patient(ward, postcode=postcode, given_name="Alex", family_name=f"Dropping {postcode[:3]}")
        device = DeviceFactory(patient=patient, network_type="cellular", network_operator="23415")
        for n in range(drops):
            began = now - dt.timedelta(hours=n + 1)
            ConnectivityGap.objects.create(device=device, patient=patient, cause="timeout", started_at=began,
                                           ended_at=began + dt.timedelta(minutes=5))  # fmt: skip
    task = KitTask.objects.create(device=device, patient=patient, reason="went silent 3 times in the last 24 h",
                                  remedy="A cellular hub with an external antenna", created_at=now)  # fmt: skip
    base = live_platform["url"]
    page = log_in(chromium, base, "nurse", viewport=PHONE)

    # when the nurse opens the not-spot view from the navigation on a phone
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Not-spots").click()
    page.wait_for_url(f"{base}/connectivity/areas/")

    # then the districts are listed, busiest first, and nothing is wider than the screen
    rows = page.locator("#by-district tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("LS1")
    expect(rows.nth(0).locator("td").nth(1)).to_have_text("3")
    expect(rows.nth(1)).to_contain_text("LS6")
    expect(rows.nth(1).locator("td").nth(1)).to_have_text("1")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    # when they open the kit tasks and mark the task done with what was done
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Kit tasks").click()
    card = page.locator(f'[data-task-id="{task.pk}"]')
    expect(card).to_contain_text("A cellular hub with an external antenna")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    card.get_by_label("What was done").fill("Hub fitted by the window")
    card.get_by_role("button", name="Done").click()

    # then the task is gone from the list, and closed with its note on record
    expect(page.locator(f'[data-task-id="{task.pk}"]')).to_have_count(0)
    expect(page.locator("#kit-tasks")).to_contain_text("No open tasks")
    task.refresh_from_db()
    assert task.state == "done" and task.done_at is not None
    done = AuditEvent.objects.get(action="kit_task.done", patient=patient)
    assert done.actor == nurse and done.detail["note"] == "Hub fitted by the window"
