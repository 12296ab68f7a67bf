"""Celery tasks for sending FHIR: thin, they take ids and call the services."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings
from django.db.models import Model

from ukcore import delivery
from ukcore.models import Delivery, DischargeSummary, ObservationPush


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def send_discharge_summary(self: Any, summary_id: int) -> str:
    from ukcore.discharge import services

    return _attempt(
        self, DischargeSummary, summary_id, "document",
        sent=lambda status, n: services.discharge_summary_sent(summary_id=summary_id, status=status, attempts=n),
        retrying=lambda error, n: services.discharge_summary_retrying(summary_id=summary_id, error=error, attempts=n),
        failed=lambda error, n: services.discharge_summary_failed(summary_id=summary_id, error=error, attempts=n),
    )  # fmt: skip


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=None)
def send_observation_push(self: Any, push_id: int) -> str:
    from ukcore import push

    return _attempt(
        self, ObservationPush, push_id, "bundle",
        sent=lambda status, n: push.push_sent(push_id=push_id, status=status, attempts=n),
        retrying=lambda error, n: push.push_retrying(push_id=push_id, error=error, attempts=n),
        failed=lambda error, n: push.push_failed(push_id=push_id, error=error, attempts=n),
    )  # fmt: skip


def _attempt(task: Any, model: type[Model], pk: int, body_field: str, *, sent: Any, retrying: Any, failed: Any) -> str:
    """One try at POSTing the row's ``body_field`` to its endpoint, if it is still to be sent."""
    row = model.objects.filter(pk=pk).only("state", "endpoint", body_field).first()  # type: ignore[attr-defined]
    if row is None or row.state not in (Delivery.QUEUED, Delivery.RETRYING):
        return "skipped"
    attempt = task.request.retries + 1
    try:
        receipt = delivery.post_fhir(row.endpoint, getattr(row, body_field))
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
            return str(task.apply(args=[pk], retries=attempt, throw=False).result)
        raise task.retry(countdown=delivery.backoff_seconds(attempt)) from exc
    sent(receipt.status, attempt)
    return "sent"


@shared_task(acks_late=True, ignore_result=True)
def build_observation_push(score_ids: list[int]) -> int:
    from ukcore import push

    return len(push.push_create(score_ids))
