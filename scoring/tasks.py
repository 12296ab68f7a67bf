"""Celery tasks for scoring: thin, they take ids and call the services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from scoring import services, sweep

logger = logging.getLogger(__name__)

# A database that is down, restarting or unreachable: retried with exponential back-off and full
# jitter, capped at VW_RESCORE_RETRY_MAX_SECONDS, for as long as it takes (max_retries=None). Five
# retries (the first version) gave up inside a 20 s outage and stranded the task's patients.
# Anything else is a fault retrying will not mend; the sweep (scoring.sweep) finds those patients.
RETRY_POLICY = {
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": 1,
    "retry_backoff_max": settings.VW_RESCORE_RETRY_MAX_SECONDS,
    "retry_jitter": True,
    "max_retries": None,
}


@shared_task(acks_late=True, **RETRY_POLICY)
def rescore_patients(patient_ids: list[int]) -> int:
    """Recompute NEWS2 for these patients; returns how many new scores were stored."""
    return len(services.rescore_patients(patient_ids))


@shared_task(bind=True, acks_late=True, **RETRY_POLICY)
def rescore_waiting(self, kind: str = "prompt") -> int:
    """Recompute NEWS2 for every patient waiting for a rescore of this kind (services.take_waiting).

    ``kind`` is "prompt" (sent to the prompt queue) or "routine" (the default queue, after the
    routine countdown); a retry or redelivery keeps the task id and so takes its patients again.
    """
    task_id = self.request.id or "eager"
    patient_ids = services.take_waiting(task_id, kind)
    created = len(services.rescore_patients(patient_ids)) if patient_ids else 0
    services.finish_waiting(task_id, kind)
    return created


@shared_task(acks_late=True, ignore_result=True)
def sweep_unscored() -> int:
    """The safety net (Celery beat, every VW_RESCORE_SWEEP_SECONDS): send the rescore of every
    patient overdue for one. Not retried: the next beat is its retry."""
    try:
        return len(sweep.sweep_unscored())
    except (OperationalError, InterfaceError) as exc:
        logger.warning("rescore sweep skipped, the database is unavailable: %s", exc)
        return 0
