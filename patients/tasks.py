"""Celery tasks for stays: thin, they call the services."""

from __future__ import annotations

from celery import shared_task

from patients.daily_return import daily_returns_catch_up


@shared_task(acks_late=True, ignore_result=True)
def make_daily_returns() -> list[str]:
    """Beat, hourly: make each missing daily return of the last week (idempotent per day)."""
    return [day.isoformat() for day in daily_returns_catch_up()]
