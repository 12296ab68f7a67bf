"""Celery tasks for scoring: thin, they take ids and call the services."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from scoring import services


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=True, max_retries=5)
def rescore_patients(patient_ids: list[int]) -> int:
    """Recompute NEWS2 for these patients; returns how many new scores were stored."""
    return len(services.rescore_patients(patient_ids))
