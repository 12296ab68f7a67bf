"""Celery tasks for sending FHIR: thin, they take ids and call the services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from ukcore import delivery
from ukcore.models import Delivery, DischargeSummary, ObservationPush


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def send_discharge_summary(self: Any, summary_id: int) -> str:
    from ukcore.discharge import services

    row = DischargeSummary.objects.filter(pk=summary_id).only("state", "endpoint", "document").first()
    if row is None or row.state not in (Delivery.QUEUED, Delivery.RETRYING):
        return "skipped"
    return _attempt(
        self, send_discharge_summary, summary_id, row.endpoint, row.document,
        sent=lambda status, n: services.discharge_summary_sent(summary_id=summary_id, status=status, attempts=n),
        retrying=lambda error, n: services.discharge_summary_retrying(summary_id=summary_id, error=error, attempts=n),
        failed=lambda error, n: services.discharge_summary_failed(summary_id=summary_id, error=error, attempts=n),
    )  # fmt: skip


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def send_observation_push(self: Any, push_id: int) -> str:
    from ukcore import push

    row = ObservationPush.objects.filter(pk=push_id).only("state", "endpoint", "bundle").first()
    if row is None or row.state not in (Delivery.QUEUED, Delivery.RETRYING):
        return "skipped"
    return _attempt(
        self, send_observation_push, push_id, row.endpoint, row.bundle,
        sent=lambda status, n: push.push_sent(push_id=push_id, status=status, attempts=n),
        retrying=lambda error, n: push.push_retrying(push_id=push_id, error=error, attempts=n),
        failed=lambda error, n: push.push_failed(push_id=push_id, error=error, attempts=n),
    )  # fmt: skip


def _attempt(task: Any, again: Any, pk: int, url: str, body: dict, *, sent: Any, retrying: Any, failed: Any) -> str:
    attempt = task.request.retries + 1
    try:
        receipt = delivery.post_fhir(url, body)
    except delivery.PermanentDeliveryError as exc:
        failed(str(exc), attempt)
        return "failed"
    except delivery.DeliveryError as exc:
        if attempt > settings.VW_FHIR_RETRIES:
            failed(str(exc), attempt)
            return "failed"
        retrying(str(exc), attempt)
        if task.request.is_eager:
            # In-process (tests, the eager demo): Celery's retry would escape the caller's
            # on-commit hook, so the next try runs here, without the back-off.
            return str(again.apply(args=[pk], retries=attempt, throw=False).result)
        raise task.retry(countdown=delivery.backoff_seconds(attempt)) from exc
    sent(receipt.status, attempt)
    return "sent"


@shared_task(acks_late=True, ignore_result=True)
def build_observation_push(score_ids: list[int]) -> int:
    from ukcore import push

    return len(push.push_create(score_ids))
