"""Pairing through the patient's pages, the gateway API and the clinician's code page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from devices.models import Device
from devices.pairing import pairing_code_issue, status_token
from tests.factories import ObservationFactory, UserFactory
from tests.pairing.conftest import STOCK_CLAIM_KEY


@pytest.fixture
def issued(patient, clinician):
    return pairing_code_issue(patient=patient, user=clinician)


def test_the_gateway_api_pairs_and_returns_credentials_once(issued, stock_device):
    # when a gateway posts the code and serial
    api = APIClient()
    response = api.post("/api/v1/pairing/", {"code": issued.code, "serial": stock_device.serial}, format="json")

    # then it gets its id, secret, broker address, topics and config; a replay is refused
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"device_id", "secret", "mqtt", "topics", "config"}
    assert body["mqtt"]["port"] and body["secret"]
    again = api.post("/api/v1/pairing/", {"code": issued.code, "serial": stock_device.serial}, format="json")
    assert again.status_code == 400 and again.json()["reason"] == "already_used"


def test_the_gateway_api_explains_a_missing_field(db):
    response = APIClient().post("/api/v1/pairing/", {"code": "ABCD-2345"}, format="json")
    assert response.status_code == 400 and "serial" in response.json()


def test_the_gateway_api_answers_too_many_guesses_with_429(settings, stock_device):
    settings.VW_PAIRING_MAX_FAILURES = 2
    api = APIClient()
    codes = [
        api.post("/api/v1/pairing/", {"code": f"WXYZ-234{n}", "serial": "x"}, format="json").status_code
        for n in range(3)
    ]
    assert codes == [400, 400, 429]


def test_a_patient_pairs_through_the_pages_and_sees_the_first_reading(client, issued, stock_device, patient):
    # given the patient enters the code, then the device number
    step1 = client.post(reverse("frontend:pair"), {"code": issued.code})
    assert step1.status_code == 302 and step1["Location"] == reverse("frontend:pair-device")
    step2 = client.post(reverse("frontend:pair-device"), {"serial": stock_device.serial})
    assert step2.status_code == 302
    wait_url = step2["Location"]
    token = wait_url.rstrip("/").split("/")[-1]
    status_url = reverse("frontend:pair-status", args=[token])

    # when the device has not yet collected its credentials, then the page says it is setting up
    assert "Setting up your device" in client.get(wait_url).content.decode()
    assert client.get(status_url).json()["state"] == "setting_up"

    # when the device collects its credentials and its first reading arrives
    assert (
        APIClient()
        .post(
            "/api/v1/pairing/collect/",
            {"serial": stock_device.serial, "claim_key": STOCK_CLAIM_KEY},
            format="json",
        )
        .status_code
        == 200
    )
    assert client.get(status_url).json()["state"] == "waiting"
    ObservationFactory(patient=patient, device=Device.objects.get(pk=stock_device.pk))

    # then the page says so in words
    status = client.get(status_url).json()
    assert status["state"] == "received" and status["title"] == "We have received your first reading"


def test_a_wrong_code_on_the_page_gets_a_clear_message(client, db):
    response = client.post(reverse("frontend:pair"), {"code": "ZZZZ-9999"})
    assert response.status_code == 400
    assert "We do not recognise that code" in response.content.decode()


def test_the_waiting_page_offers_help_when_nothing_arrives(client, issued, stock_device, patient):
    # given a device paired long enough ago with nothing received
    client.post(reverse("frontend:pair"), {"code": issued.code})
    client.post(reverse("frontend:pair-device"), {"serial": stock_device.serial})
    Device.objects.filter(pk=stock_device.pk).update(paired_at=timezone.now() - dt.timedelta(minutes=10))
    # (the token is bound to the pairing time, so the moved pairing needs a new one)
    token = status_token(Device.objects.get(pk=stock_device.pk))

    # when the page asks, then it shows the help with the ward's number
    page = client.get(reverse("frontend:pair-wait", args=[token])).content.decode()
    assert client.get(reverse("frontend:pair-status", args=[token])).json()["show_help"] is True
    assert "switched on" in page and "Wi-Fi or mobile signal" in page and patient.ward.phone in page


def test_a_forged_status_token_finds_nothing(client, db):
    assert client.get(reverse("frontend:pair-status", args=["forged:token"])).status_code == 404


def test_a_clinician_issues_a_code_with_its_qr_on_the_patient_pairing_page(client, clinician, patient):
    client.force_login(clinician)
    page = client.post(reverse("frontend:pairing-code", args=[patient.pk])).content.decode()
    assert 'id="pairing-code"' in page and "<svg" in page


def test_a_clinician_of_another_ward_cannot_issue_a_code_from_the_page(client, patient):
    client.force_login(UserFactory())
    assert client.post(reverse("frontend:pairing-code", args=[patient.pk])).status_code == 404


def test_an_anonymous_visitor_is_sent_to_log_in_for_the_code_page(client, patient):
    response = client.post(reverse("frontend:pairing-code", args=[patient.pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
