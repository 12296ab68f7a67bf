"""Celery tasks for devices: thin, they call the services."""

from __future__ import annotations

from celery import shared_task

from devices import connectivity, notspots


@shared_task(acks_late=True, ignore_result=True)
def sweep_connectivity() -> int:
    """Beat, every few seconds: take overdue devices offline (CELERY_BEAT_SCHEDULE)."""
    return connectivity.sweep_connectivity()


@shared_task(acks_late=True, ignore_result=True)
def flag_dropping_kit() -> int:
    """Beat, hourly: a kit-team task for each patient whose kit keeps dropping (devices.notspots)."""
    return len(notspots.flag_dropping_kit())
