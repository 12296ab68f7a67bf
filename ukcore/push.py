"""Newly scored observations pushed to a shared care record (optional: VW_FHIR_OBSERVATIONS_URL).

Scoring only asks for a push, after its transaction commits (:func:`scores_scored`); the
Bundle is built and sent by Celery tasks, so the scoring path pays nothing when pushing is
off and one on-commit hook when it is on. Each push is a FHIR transaction Bundle of at most
VW_FHIR_PUSH_MAX_RESOURCES entries: the score and the readings it was built from, each as a
``PUT Observation/<id>``, so sending the same reading twice (a retry, a later score built on
it) updates rather than duplicates it at the receiver.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from patients.models import Observation
from scoring.models import EarlyWarningScore
from ukcore import delivery
from ukcore.models import Delivery, ObservationPush
from ukcore.resources.common import instant
from ukcore.resources.observations import observation_resource, score_resource
from ukcore.selectors import blood_pressure_partners, reading_types

logger = logging.getLogger(__name__)


def scores_scored(score_ids: Iterable[int]) -> None:
    """Call inside the scoring transaction: asks for a push of these scores once it commits."""
    ids = [int(pk) for pk in score_ids]
    if settings.VW_FHIR_OBSERVATIONS_URL and ids:
        transaction.on_commit(partial(_build_later, ids))


def _build_later(score_ids: list[int]) -> None:
    from ukcore.tasks import build_observation_push

    build_observation_push.delay(score_ids)


def push_create(score_ids: list[int]) -> list[ObservationPush]:
    """Build the transaction Bundles for these scores and queue each for sending."""
    endpoint = settings.VW_FHIR_OBSERVATIONS_URL
    if not endpoint:
        return []
    scores = list(EarlyWarningScore.objects.filter(pk__in=score_ids).select_related("patient").order_by("as_of", "pk"))
    types = reading_types(scores)
    readings = list(Observation.objects.filter(pk__in=types).select_related("patient").order_by("measured_at", "pk"))
    partners = blood_pressure_partners(readings)
    resources: dict[str, dict[str, Any]] = {}
    for reading in readings:
        resource = observation_resource(reading, partners.get(reading.pk))
        resources[resource["id"]] = resource
    for score in scores:
        resource = score_resource(score, types)
        resources[resource["id"]] = resource
    limit = max(settings.VW_FHIR_PUSH_MAX_RESOURCES, 1)
    ordered = list(resources.values())
    made = []
    now = timezone.now()
    with transaction.atomic():
        for start in range(0, len(ordered), limit):
            chunk = ordered[start : start + limit]
            made.append(
                ObservationPush.objects.create(
                    created_at=now,
                    bundle=transaction_bundle(chunk, now),
                    resource_count=len(chunk),
                    patient_ids=sorted({int(r["subject"]["reference"].split("/")[1]) for r in chunk}),
                    state=Delivery.QUEUED,
                    endpoint=endpoint,
                )
            )
        for push in made:
            transaction.on_commit(partial(_send_later, push.pk))
    return made


def transaction_bundle(resources: list[dict[str, Any]], now: Any) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "meta": {"lastUpdated": instant(now)},
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"{settings.VW_BASE_URL.rstrip('/')}/fhir/R4/Observation/{resource['id']}",
                "resource": resource,
                "request": {"method": "PUT", "url": f"Observation/{resource['id']}"},
            }
            for resource in resources
        ],
    }


def _send_later(push_id: int) -> None:
    from ukcore.tasks import send_observation_push

    send_observation_push.delay(push_id)


def push_sent(*, push_id: int, status: int, attempts: int) -> None:
    delivery.mark(ObservationPush, push_id, state=Delivery.SENT, attempts=attempts, status=status)


def push_retrying(*, push_id: int, error: str, attempts: int) -> None:
    delivery.mark(ObservationPush, push_id, state=Delivery.RETRYING, attempts=attempts, error=error)


def push_failed(*, push_id: int, error: str, attempts: int) -> None:
    # Kept with its Bundle: nothing is lost, and the admin's "send again" action resends it.
    if delivery.mark(ObservationPush, push_id, state=Delivery.FAILED, attempts=attempts, error=error):
        logger.error("Observation push %s to the shared care record failed: %s", push_id, error[:300])


def push_resend(*, push_id: int) -> bool:
    """Queue a failed push again (admin action)."""
    with transaction.atomic():
        updated = ObservationPush.objects.filter(pk=push_id, state=Delivery.FAILED).update(
            state=Delivery.QUEUED, failed_at=None
        )
        if updated:
            transaction.on_commit(partial(_send_later, push_id))
    return bool(updated)
