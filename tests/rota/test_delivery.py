"""Delivery over real protocols, to peers the tests start: an SMTP server receives and parses the
mail, a Notify-API server checks the client's JWT and takes the SMS, a push endpoint decrypts the
RFC 8291 payload. Failure after retries is recorded and raises a technical alert."""

import pytest
from django.utils import timezone

from alerts.models import Alert, AlertKind, Severity
from rota.models import Channel, Notification, PushSubscription
from rota.notify import notify
from rota.tasks import send_notification
from tests.rota.conftest import high_alert
from tests.rota.peers import notify_server, push_endpoint, smtp_server
from virtualward.embedded import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_retries(settings):
    settings.VW_NOTIFY_RETRIES = 2
    settings.VW_NOTIFY_RETRY_SECONDS = 0


@pytest.fixture
def smtp(settings):
    with smtp_server() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 5
        yield server


def queue(alert, person, channel):
    (notification,) = notify(
        alert=alert, people=[(person, "on duty as ward clinician, at once")], channels=[channel], now=timezone.now()
    )
    return notification


def test_an_email_reaches_a_real_smtp_server_with_the_least_patient_data(team, smtp):
    # given a HIGH alert and an e-mail queued to the ward clinician
    alert = high_alert(team["ward"])
    notification = queue(alert, team["nurse"], Channel.EMAIL)
    # when the task delivers it
    assert send_notification.apply(args=[notification.pk]).get() == "sent"
    # then the SMTP server received one message, to the nurse, with the links and no identity
    (message,) = smtp.wait_for(1)
    assert smtp.recipients == [["nurse@nhs.test"]]
    assert message["Subject"] == "Virtual ward: HIGH clinical alert - Respiratory Virtual Ward"
    body = message.get_content()
    assert f"/triage/#alert-{alert.pk}" in body and "/ack/" in body and "NEWS2 now 9" in body
    assert alert.patient.nhs_number not in body and "Breathless" not in body
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (Notification.State.SENT, 1) and notification.sent_at


def test_an_email_that_cannot_be_delivered_is_retried_then_failed_and_raises_a_technical_alert(
    team, settings, fast_retries
):
    # given an SMTP host where nothing listens
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    alert = high_alert(team["ward"])
    notification = queue(alert, team["nurse"], Channel.EMAIL)
    # when the task runs with its retries
    send_notification.apply(args=[notification.pk])
    # then the notification is failed after 3 tries, with the reason
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (Notification.State.FAILED, 3)
    assert "SMTP" in notification.error
    # and the command centre has a HIGH technical alert saying who was not reached
    failure = Alert.objects.get(kind=AlertKind.NOTIFICATION_FAILED)
    assert (failure.category, failure.severity, failure.patient_id) == ("technical", Severity.HIGH, alert.patient_id)
    assert failure.title == "E-mail to Nia Hughes not delivered"


def test_an_sms_goes_through_the_notify_client_with_a_valid_jwt_and_no_nhs_number(team, settings):
    with notify_server() as notify_api:
        settings.NOTIFY_API_KEY, settings.NOTIFY_BASE_URL = notify_api.api_key, notify_api.url
        settings.NOTIFY_SMS_TEMPLATE_ID = notify_api.template_id
        # given an SMS queued to the nurse's mobile
        alert = high_alert(team["ward"])
        notification = queue(alert, team["nurse"], Channel.SMS)
        # when delivered
        assert send_notification.apply(args=[notification.pk]).get() == "sent"
        # then Notify received the documented request, authenticated as our service
        (request,) = notify_api.wait_for(1)
    sent = request["json"]
    assert request["claims"]["iss"] == notify_api.service_id
    assert sent["phone_number"] == "07700900001" and sent["template_id"] == notify_api.template_id
    assert sent["reference"] == f"vw-notification-{notification.pk}"
    assert alert.patient.nhs_number not in sent["personalisation"]["message"]
    notification.refresh_from_db()
    assert notification.state == Notification.State.SENT and notification.provider_ref.startswith("notify:")


def test_an_sms_notify_refuses_is_failed_at_once_without_retrying(team, settings, fast_retries):
    with notify_server() as notify_api:
        notify_api.answer_status = 400
        settings.NOTIFY_API_KEY, settings.NOTIFY_BASE_URL = notify_api.api_key, notify_api.url
        settings.NOTIFY_SMS_TEMPLATE_ID = notify_api.template_id
        notification = queue(high_alert(team["ward"]), team["nurse"], Channel.SMS)
        send_notification.apply(args=[notification.pk])
        assert len(notify_api.requests) == 1
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (Notification.State.FAILED, 1)
    assert "team-only API key" in notification.error


def test_sms_without_notify_configured_is_recorded_as_not_sent_with_the_reason_never_dropped(team, settings):
    settings.NOTIFY_API_KEY = ""
    notification = queue(high_alert(team["ward"]), team["nurse"], Channel.SMS)
    assert notification.state == Notification.State.NOT_SENT and "not configured" in notification.error


def test_a_web_push_is_encrypted_for_the_subscription_and_signed_with_vapid(team, settings):
    with push_endpoint() as push:
        settings.VAPID_PRIVATE_KEY, settings.VAPID_SUBJECT = push.vapid_private_key, "mailto:ward@nhs.test"
        # given the nurse's browser subscribed
        PushSubscription.objects.create(
            person=team["nurse"], endpoint=push.endpoint, p256dh=push.p256dh, auth=push.auth
        )
        alert = high_alert(team["ward"])
        notification = queue(alert, team["nurse"], Channel.PUSH)
        # when delivered
        assert send_notification.apply(args=[notification.pk]).get() == "sent"
        (request,) = push.wait_for(1)
    # then the endpoint decrypted the payload: the alert's id and the least-data message
    assert request["json"]["alert_id"] == alert.pk
    assert request["json"]["title"].startswith("Virtual ward: HIGH clinical alert")
    assert alert.patient.nhs_number not in request["json"]["body"]
    assert request["claims"]["sub"] == "mailto:ward@nhs.test" and request["claims"]["exp"] > timezone.now().timestamp()


def test_a_push_subscription_the_service_says_is_gone_is_removed_and_the_push_failed(team, settings):
    with push_endpoint() as push:
        push.answer_status = 410
        settings.VAPID_PRIVATE_KEY = push.vapid_private_key
        PushSubscription.objects.create(
            person=team["nurse"], endpoint=push.endpoint, p256dh=push.p256dh, auth=push.auth
        )
        notification = queue(high_alert(team["ward"]), team["nurse"], Channel.PUSH)
        send_notification.apply(args=[notification.pk])
    notification.refresh_from_db()
    assert notification.state == Notification.State.FAILED and "expired (410)" in notification.error
    assert not PushSubscription.objects.exists()
