"""Celery tasks for agreed parameters: thin, they call the services."""

from __future__ import annotations

from celery import shared_task

from careplan.reviews import sweep_agreed_reviews as sweep


@shared_task(acks_late=True, ignore_result=True)
def sweep_agreed_reviews() -> dict[str, int]:
    """Beat, hourly: agreed parameters past their review date raise a task (careplan.reviews)."""
    return sweep()
