"""Celery tasks for alerting: thin, they call the services."""

from __future__ import annotations

from celery import shared_task

from alerts import services


@shared_task(acks_late=True, ignore_result=True)
def sweep_overdue_observations() -> dict[str, int]:
    """Beat, every minute: raise or resolve 'observations overdue' (CELERY_BEAT_SCHEDULE)."""
    return services.sweep_overdue_observations()


@shared_task(acks_late=True, ignore_result=True)
def sweep_clinical_reviews() -> dict[str, int]:
    """Beat, every minute: bring back reviews still in band; a HIGH patient always has an alert."""
    return services.sweep_clinical_reviews()


@shared_task(acks_late=True, ignore_result=True)
def sweep_persistence_holds() -> int:
    """Beat, every VW_PERSISTENCE_SWEEP_SECONDS: raise held single-parameter alerts whose time is up."""
    return services.sweep_persistence_holds()
