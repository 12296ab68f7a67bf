"""End to end: a reading published over MQTT turns a patient HIGH; the ward clinician on duty gets
an e-mail at a real SMTP server and an SMS request at a Notify-API server; left unacknowledged,
the ladder's next step fires on time; acknowledging stops it. The platform runs as its real
processes (daphne, the ingest service with Celery eager); the test plays Celery beat."""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Role
from alerts.models import Alert
from alerts.services import alert_acknowledge
from devices.models import Connectivity
from rota.models import DutyRole, EscalationStep, Notification, Shift, StaffContact, Track
from rota.services import sweep_ladders
from tests.browser.test_dashboard_in_chromium import publish_deterioration
from tests.factories import DeviceFactory, UserFactory, WardFactory
from tests.frontend.conftest import make_score, new_patient
from tests.rota.peers import notify_server, smtp_server
from tests.scoring_services.builders import eager_tasks  # noqa: F401 (the test process plays the worker)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
STEP_S = 4  # the ladder's steps, short for the test: at once, then 4 s, then 8 s


@pytest.fixture(scope="module", autouse=True)
def peers() -> Iterator[dict[str, Any]]:
    """Started before the platform, whose processes read these addresses from the environment."""
    with smtp_server() as smtp, notify_server() as notify_api:
        names = {
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "NOTIFY_API_KEY": notify_api.api_key,
            "NOTIFY_BASE_URL": notify_api.url,
            "NOTIFY_SMS_TEMPLATE_ID": notify_api.template_id,
        }
        saved = {name: os.environ.get(name) for name in names}
        os.environ.update(names)
        try:
            yield {"smtp": smtp, "notify": notify_api}
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


@pytest.fixture
def test_process_sends_to_the_peers(settings: Any, peers: dict[str, Any]) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", peers["smtp"].port
    settings.NOTIFY_API_KEY, settings.NOTIFY_BASE_URL = peers["notify"].api_key, peers["notify"].url
    settings.NOTIFY_SMS_TEMPLATE_ID = peers["notify"].template_id


def seed() -> dict[str, Any]:
    ward = WardFactory(name="Respiratory Virtual Ward")
    nurse = UserFactory(
        username="nurse", first_name="Nia", last_name="Hughes", role=Role.CLINICIAN, email="nurse@nhs.test"
    )
    senior = UserFactory(
        username="senior", first_name="Sam", last_name="Okafor", role=Role.OPERATOR, email="senior@nhs.test"
    )
    doctor = UserFactory(
        username="doctor", first_name="Dev", last_name="Rao", role=Role.CLINICIAN, email="doctor@nhs.test"
    )
    ward.staff.add(nurse, doctor)
    StaffContact.objects.create(person=nurse, mobile="07700900001")
    now = timezone.now()
    for person, role, on_ward in (
        (nurse, DutyRole.WARD_CLINICIAN, ward),
        (senior, DutyRole.COMMAND_CENTRE_SENIOR, None),
        (doctor, DutyRole.ON_CALL_DOCTOR, ward),
    ):
        Shift.objects.create(
            person=person,
            role=role,
            ward=on_ward,
            starts_at=now - dt.timedelta(hours=1),
            ends_at=now + dt.timedelta(hours=8),
        )
    for after, role, channels in (
        (0, DutyRole.WARD_CLINICIAN, ["email", "sms"]),
        (STEP_S, DutyRole.COMMAND_CENTRE_SENIOR, ["email"]),
        (2 * STEP_S, DutyRole.ON_CALL_DOCTOR, ["email"]),
    ):
        EscalationStep.objects.create(ward=ward, track=Track.HIGH, after_seconds=after, role=role, channels=channels)
    alex = new_patient(ward, given_name="Alex", family_name="Breathless")
    oximeter = DeviceFactory(
        patient=alex, connectivity=Connectivity.ONLINE, last_reading_at=now, last_seen_at=now, expected_interval_s=1800
    )
    make_score(alex, total=1, risk="low", minutes_ago=30)
    return {"ward": ward, "nurse": nurse, "alex": alex, "oximeter": oximeter}


def _wait_for_alert(patient: Any, timeout: float = 30) -> Alert:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alert = Alert.objects.filter(patient=patient, kind="news2_risk", severity=50).first()
        if alert is not None:
            return alert
        time.sleep(0.2)
    raise AssertionError("no HIGH alert was raised")


def _play_beat_until(moment: dt.datetime) -> None:
    while timezone.now() < moment:
        sweep_ladders()
        time.sleep(0.25)
    sweep_ladders()


@pytest.mark.usefixtures("eager_tasks")
def test_a_reading_over_mqtt_reaches_the_ward_clinician_by_email_and_sms_and_climbs_until_acknowledged(
    peers, live_platform, test_process_sends_to_the_peers
):
    smtp, notify_api = peers["smtp"], peers["notify"]
    cast = seed()

    # when Alex's oximeter publishes a deteriorating set over MQTT
    publish_deterioration(live_platform["mqtt_url"], cast["oximeter"].device_id)

    # then a HIGH alert is raised, and at once the nurse's e-mail arrives and Notify gets the SMS
    alert = _wait_for_alert(cast["alex"])
    messages = smtp.wait_for(1, timeout=30)
    assert [m["To"] for m in messages] == ["nurse@nhs.test"]
    assert f"/triage/#alert-{alert.pk}" in messages[0].get_content()
    (sms,) = notify_api.wait_for(1, timeout=30)
    assert sms["json"]["phone_number"] == "07700900001"
    assert cast["alex"].nhs_number not in sms["json"]["personalisation"]["message"]

    # when nobody acknowledges, and beat runs until just before the next step
    _play_beat_until(alert.opened_at + dt.timedelta(seconds=STEP_S - 1))
    # then the senior has not been told yet
    assert [m["To"] for m in smtp.messages] == ["nurse@nhs.test"]

    # when the step's time comes
    _play_beat_until(alert.opened_at + dt.timedelta(seconds=STEP_S))
    # then the command-centre senior is e-mailed, on time
    smtp.wait_for(2)
    assert [m["To"] for m in smtp.messages] == ["nurse@nhs.test", "senior@nhs.test"]
    senior_note = Notification.objects.get(alert=alert, recipient__username="senior")
    assert senior_note.state == "sent"
    assert STEP_S <= (senior_note.created_at - alert.opened_at).total_seconds() < STEP_S + 2

    # when the nurse acknowledges before the doctor's step
    alert_acknowledge(alert=alert, user=cast["nurse"])
    _play_beat_until(alert.opened_at + dt.timedelta(seconds=2 * STEP_S + 1))
    # then the on-call doctor is never told
    time.sleep(0.5)
    assert [m["To"] for m in smtp.messages] == ["nurse@nhs.test", "senior@nhs.test"]
    assert not Notification.objects.filter(alert=alert, recipient__username="doctor").exists()
