"""Celery tasks for alerting: thin, they call the services."""

from __future__ import annotations

from celery import shared_task

from alerts import services


@shared_task(acks_late=True, ignore_result=True)
def sweep_overdue_observations() -> dict[str, int]:
    """Beat, every minute: raise or resolve 'observations overdue' (CELERY_BEAT_SCHEDULE)."""
    return services.sweep_overdue_observations()
