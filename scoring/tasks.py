"""Celery tasks for scoring: thin, they take ids and call the services."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from scoring import services


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def rescore_patients(patient_ids: list[int]) -> int:
    """Recompute NEWS2 for these patients; returns how many new scores were stored."""
    return len(services.rescore_patients(patient_ids))


@shared_task(bind=True, acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
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
