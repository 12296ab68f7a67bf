"""Celery tasks for check-ins: thin, they call the services."""

from __future__ import annotations

from celery import shared_task

from checkins.overdue import sweep_overdue_checkins as sweep


@shared_task(acks_late=True, ignore_result=True)
def sweep_overdue_checkins() -> dict[str, int]:
    """Beat, every five minutes: a missed daily check-in raises "check-in overdue" (checkins.overdue)."""
    return sweep()
