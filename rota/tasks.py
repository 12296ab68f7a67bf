"""Celery tasks for escalation: thin, they take ids and call rota.services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from rota import services
from rota.channels import DeliveryError, PermanentDeliveryError, deliver
from rota.models import Notification


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def send_notification(self: Any, notification_id: int) -> str:
    """Deliver one message; retry with back-off; after the last try, record it failed (and alert)."""
    notification = Notification.objects.select_related("alert").filter(pk=notification_id).first()
    if notification is None or notification.state != Notification.State.QUEUED:
        return "skipped"
    attempt = self.request.retries + 1
    try:
        reference = deliver(notification)
    except PermanentDeliveryError as exc:
        services.notification_failed(notification_id=notification_id, error=str(exc), attempts=attempt)
        return "failed"
    except DeliveryError as exc:
        if attempt > settings.VW_NOTIFY_RETRIES:
            services.notification_failed(notification_id=notification_id, error=str(exc), attempts=attempt)
            return "failed"
        services.notification_retrying(notification_id=notification_id, error=str(exc), attempts=attempt)
        if self.request.is_eager:
            # Run in-process (tests, eager demo): Celery's retry would propagate out of the
            # caller's on-commit hook, so the next try runs here, without the back-off.
            return send_notification.apply(args=[notification_id], retries=attempt, throw=False).get()
        raise self.retry(countdown=settings.VW_NOTIFY_RETRY_SECONDS * 2 ** (attempt - 1)) from exc
    services.notification_sent(notification_id=notification_id, reference=reference, attempts=attempt)
    return "sent"


@shared_task(acks_late=True, ignore_result=True)
def advance_ladder(alert_id: int) -> int:
    """Fire the rungs due now for one alert (sent on commit when an alert is raised)."""
    return services.ladder_advance(alert_id=alert_id)


@shared_task(acks_late=True, ignore_result=True)
def advance_incident_ladder(incident_id: int) -> int:
    """Fire the rungs due now for one connectivity incident (sent on commit when it opens)."""
    return services.incident_ladder_advance(incident_id=incident_id)


@shared_task(acks_late=True, ignore_result=True)
def sweep_ladders() -> int:
    """Beat, every VW_LADDER_SWEEP_SECONDS: advance every unacknowledged alert's ladder."""
    return services.sweep_ladders()


@shared_task(acks_late=True, ignore_result=True)
def tell_owner_worse(alert_id: int) -> int:
    """An acknowledged alert got worse: tell its owner (the ladder stays stopped)."""
    return services.owner_told_worse(alert_id=alert_id)
