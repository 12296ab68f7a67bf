"""Beat tasks of the history app: partitions ahead, receipts past their use (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import ProgrammingError
from django.utils import timezone

from history.partitions import ensure_partitions
from history.retention import prune_receipts, summarise_due

logger = logging.getLogger(__name__)


@shared_task
def create_partitions_ahead() -> list[str]:
    """Every 6 hours: this month's and the next VW_PARTITION_MONTHS_AHEAD months' partitions exist.

    Creating a partition is DDL on a table the owner role holds. Where the platform runs as the
    application role (``manage.py db_roles``) this task cannot, and says so in the log; the
    owner's ``manage.py history partitions`` (run with every migrate, and monthly) does it, and
    until then readings wait in the default partition: slower to read, never refused.
    """
    try:
        return ensure_partitions(now=timezone.now(), months_ahead=settings.VW_PARTITION_MONTHS_AHEAD)
    except ProgrammingError as exc:
        logger.error("partitions ahead not created (%s): run `manage.py history partitions` as the owner role", exc)
        return []


@shared_task
def apply_receipt_retention() -> int:
    """Hourly: idempotency receipts older than VW_RECEIPT_RETENTION_DAYS go (audited)."""
    return prune_receipts(now=timezone.now(), dry_run=False)


@shared_task
def summarise_raw_readings() -> int:
    """Daily: raw continuous readings past VW_RAW_CONTINUOUS_DAYS that fed nothing, per minute."""
    return sum(result.summarised for result in summarise_due(now=timezone.now()))

