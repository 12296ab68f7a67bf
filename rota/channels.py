"""Delivery over each channel through its well-kept library; each returns a provider reference
or raises ``DeliveryError`` (worth retrying) or ``PermanentDeliveryError`` (not)."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.mail import EmailMessage

from rota.models import Channel, Notification


class DeliveryError(Exception):
    """The channel failed this time; the task retries."""


class PermanentDeliveryError(DeliveryError):
    """Retrying cannot help (no address, channel not configured, subscription gone)."""


def deliver(notification: Notification) -> str:
    senders = {Channel.EMAIL: send_email, Channel.SMS: send_sms, Channel.PUSH: send_push}
    return senders[Channel(notification.channel)](notification)


def send_email(notification: Notification) -> str:
    """Django's mail over SMTP (EMAIL_HOST / EMAIL_PORT); the Message-ID is the reference."""
    message = EmailMessage(
        subject=notification.subject,
        body=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notification.address],
    )
    message.extra_headers["X-VW-Notification"] = str(notification.pk)
    try:
        message.send(fail_silently=False)
    except OSError as exc:  # smtplib errors are OSErrors: refused, timed out, rejected recipient
        raise DeliveryError(f"SMTP: {exc}") from exc
    return f"smtp:{notification.pk}"


def send_sms(notification: Notification) -> str:
    """GOV.UK Notify's official client (POST /v2/notifications/sms); Notify's id is the reference."""
    if not settings.NOTIFY_API_KEY or not settings.NOTIFY_SMS_TEMPLATE_ID:
        raise PermanentDeliveryError("SMS is not configured (NOTIFY_API_KEY, NOTIFY_SMS_TEMPLATE_ID).")
    from notifications_python_client.errors import APIError
    from notifications_python_client.notifications import NotificationsAPIClient

    client = NotificationsAPIClient(settings.NOTIFY_API_KEY, base_url=settings.NOTIFY_BASE_URL, timeout=10)
    try:
        response = client.send_sms_notification(
            phone_number=notification.address,
            template_id=settings.NOTIFY_SMS_TEMPLATE_ID,
            personalisation={"message": notification.body},
            reference=f"vw-notification-{notification.pk}",
        )
    except APIError as exc:
        status = _status(exc)
        if status is not None and 400 <= status < 500 and status != 429:
            raise PermanentDeliveryError(f"Notify refused the SMS: {exc}") from exc
        raise DeliveryError(f"Notify: {exc}") from exc
    except OSError as exc:
        raise DeliveryError(f"Notify: {exc}") from exc
    return f"notify:{response['id']}"


def send_push(notification: Notification) -> str:
    """Web Push (pywebpush: RFC 8291 aes128gcm payload, RFC 8292 VAPID) to one subscription."""
    if not settings.VAPID_PRIVATE_KEY:
        raise PermanentDeliveryError("Web push is not configured (VAPID_PRIVATE_KEY).")
    from pywebpush import WebPushException, webpush

    from rota.models import PushSubscription

    subscription = PushSubscription.objects.filter(endpoint=notification.address).first()
    if subscription is None:
        raise PermanentDeliveryError("The browser's push subscription was removed.")
    payload = {
        "title": notification.subject,
        "body": notification.body,
        "alert_id": notification.alert_id,
        "incident_id": notification.incident_id,
    }
    try:
        response = webpush(
            subscription_info={
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            data=json.dumps(payload),
            vapid_private_key=settings.VAPID_PRIVATE_KEY,
            vapid_claims={"sub": settings.VAPID_SUBJECT},
            ttl=3600,
            timeout=10,
        )
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        if status in (404, 410):
            subscription.delete()  # RFC 8030: the subscription is gone for good
            raise PermanentDeliveryError(f"Push subscription expired ({status}).") from exc
        raise DeliveryError(f"Push service: {exc}") from exc
    except OSError as exc:
        raise DeliveryError(f"Push service: {exc}") from exc
    return f"push:{response.status_code}:{response.headers.get('Location', '')}"[:200]


def _status(exc: Exception) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)
