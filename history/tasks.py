"""Beat tasks of the history app: partitions ahead, receipts past their use (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from history.partitions import ensure_partitions
from history.retention import prune_receipts


@shared_task
def create_partitions_ahead() -> list[str]:
    """Every 6 hours: this month's and the next VW_PARTITION_MONTHS_AHEAD months' partitions exist."""
    return ensure_partitions(now=timezone.now(), months_ahead=settings.VW_PARTITION_MONTHS_AHEAD)


@shared_task
def apply_receipt_retention() -> int:
    """Hourly: idempotency receipts older than VW_RECEIPT_RETENTION_DAYS go (audited)."""
    return prune_receipts(now=timezone.now(), dry_run=False)
