"""Telling people about an alert: one Notification per person, channel and address, each sent by
its own Celery task after commit, so nothing is sent for a change the database rolls back and
every message has a recorded delivery state (docs/alerting.md#notifications)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction

from alerts.models import Alert
from rota.messages import compose, compose_incident
from rota.models import Channel, Notification, StaffContact


def notify(
    *, alert: Alert, people: Iterable[tuple[Any, str]], channels: Iterable[str], now: datetime
) -> list[Notification]:
    """Queue a message to each (person, why) on each channel; call inside the change's transaction."""
    messages = [(person, reason, *compose(alert, person_id=person.pk, reason=reason)) for person, reason in people]
    return _queue({"alert": alert}, messages, list(channels), now)


def notify_incident(
    *,
    incident: Any,
    people: Iterable[tuple[Any, str]],
    channels: Iterable[str],
    silent: int,
    at_risk: int,
    now: datetime,
) -> list[Notification]:
    """:func:`notify` for a connectivity incident: the same channels, addresses and delivery."""
    messages = [
        (person, reason, *compose_incident(incident, reason=reason, silent=silent, at_risk=at_risk))
        for person, reason in people
    ]
    return _queue({"incident": incident}, messages, list(channels), now)


def _queue(
    about: dict[str, Any], messages: list[tuple[Any, str, str, str]], channels: list[str], now: datetime
) -> list[Notification]:
    """One Notification per (person, why, subject, body), channel and address; each sent after commit."""
    made = []
    for person, reason, subject, body in messages:
        for channel in channels:
            for address, missing in _addresses(person, channel):
                made.append(
                    Notification.objects.create(
                        **about, recipient=person, channel=channel, reason=reason[:200], subject=subject[:200],
                        body=body, address=address,
                        state=Notification.State.QUEUED if address else Notification.State.NOT_SENT,
                        error=missing, created_at=now,
                    )
                )  # fmt: skip
    for notification in made:
        if notification.state == Notification.State.QUEUED:
            transaction.on_commit(partial(_send_later, notification.pk))
    return made


def _send_later(notification_id: int) -> None:
    from rota.tasks import send_notification

    send_notification.delay(notification_id)


def _addresses(person: Any, channel: str) -> list[tuple[str, str]]:
    """Where to send on this channel: [(address, "")], or [("", why there is none)]."""
    # A channel this server is not set up for is recorded as not sent, with the reason; it is
    # configuration, not a failed delivery, so it raises no technical alert.
    if channel == Channel.SMS and not (settings.NOTIFY_API_KEY and settings.NOTIFY_SMS_TEMPLATE_ID):
        return [("", "SMS is not configured on this server (NOTIFY_API_KEY, NOTIFY_SMS_TEMPLATE_ID).")]
    if channel == Channel.PUSH and not settings.VAPID_PRIVATE_KEY:
        return [("", "Web push is not configured on this server (VAPID keys).")]
    if channel == Channel.EMAIL:
        return [(person.email, "")] if person.email else [("", "No e-mail address on the person's account.")]
    if channel == Channel.SMS:
        mobile = StaffContact.objects.filter(person=person).values_list("mobile", flat=True).first()
        return [(mobile, "")] if mobile else [("", "No mobile number recorded for SMS.")]
    endpoints = list(person.push_subscriptions.values_list("endpoint", flat=True))
    return [(endpoint, "") for endpoint in endpoints] or [("", "No browser has turned on push notifications.")]
