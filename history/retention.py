"""The retention policy (docs/history.md#retention): what is kept, summarised or archived, and when.

- Kept for the life of the record: every reading that fed a score (its id is in the score's
  sub-scores) or an alert (falls), every hand-entered reading, every spot-check reading, every
  score, alert, decision and audit event.
- Raw readings of continuous devices that fed nothing may be summarised per minute after
  ``VW_RAW_CONTINUOUS_DAYS`` days (0, the default: never). The summary (count, minimum, maximum,
  mean per device, type and minute) is written in the same transaction as the raw rows go.
- Idempotency receipts are deleted after ``VW_RECEIPT_RETENTION_DAYS`` (history.receipts).

Every run that changes anything writes one audit event with what it did; ``dry_run`` counts
what would happen and changes nothing.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, Max, Min
from django.db.models.functions import TruncMinute
from django.utils import timezone

from accounts.audit import audit_record
from devices.models import DeviceMode, ReceivedMessage
from history.models import ObservationMinute
from patients.models import Observation, VitalType
from scoring.models import EarlyWarningScore

RECEIPT_CHUNK = 10_000


@dataclasses.dataclass(frozen=True)
class SummaryResult:
    start: datetime
    end: datetime
    minutes: int
    summarised: int  # raw readings folded into minute summaries and removed
    kept: int  # raw readings in the window kept because they fed a score or an alert
    dry_run: bool


def readings_that_fed_scores(start: datetime, end: datetime) -> set[int]:
    """Ids of readings measured in [start, end) that any score used.

    A score's ``as_of`` is the newest of its readings, so a score that used a reading of the
    window has ``as_of`` at or after the window's start, and (scoring looks back at most
    ``VW_SCORING_LOOKBACK_DAYS``) not later than that after its end.
    """
    horizon = end + timedelta(days=settings.VW_SCORING_LOOKBACK_DAYS)
    used: set[int] = set()
    scores = EarlyWarningScore.objects.filter(as_of__gte=start, as_of__lt=horizon).values_list("sub_scores", flat=True)
    for sub_scores in scores.iterator(chunk_size=2000):
        for sub in (sub_scores or {}).values():
            if isinstance(sub, dict) and sub.get("observation_id") is not None:
                used.add(int(sub["observation_id"]))
    return used


def summarisable(start: datetime, end: datetime):
    """Raw continuous readings of the window that may be summarised (before protecting the used)."""
    return (
        Observation.objects.in_window(start, end)
        .filter(device__mode=DeviceMode.CONTINUOUS, entered_by__isnull=True, value__isnull=False)
        .exclude(type=VitalType.FALL_DETECTED)
    )


def summarise_window(*, start: datetime, end: datetime, dry_run: bool, actor=None) -> SummaryResult:
    """Fold one window's raw continuous readings into per-minute summaries, keeping the used ones."""
    oldest_allowed = _summary_cutoff()
    if oldest_allowed is None:
        raise ValueError("VW_RAW_CONTINUOUS_DAYS is 0: raw readings are kept for the life of the record")
    if end > oldest_allowed:
        raise ValueError(f"the window must end before {oldest_allowed.isoformat()} (VW_RAW_CONTINUOUS_DAYS)")
    with transaction.atomic():
        rows = summarisable(start, end)
        protected = readings_that_fed_scores(start, end)
        kept = rows.filter(pk__in=protected).count() if protected else 0
        removable = rows.exclude(pk__in=protected) if protected else rows
        minutes = list(
            rows.annotate(at=TruncMinute("measured_at"))
            .values("patient_id", "device_id", "type", "at")
            .annotate(n=Count("id"), low=Min("value"), high=Max("value"), mean=Avg("value"))
            .order_by()
        )
        summarised = removable.count()
        if not dry_run and summarised:
            ObservationMinute.objects.bulk_create(
                [
                    ObservationMinute(
                        patient_id=m["patient_id"], device_id=m["device_id"], type=m["type"], minute=m["at"],
                        count=m["n"], minimum=m["low"], maximum=m["high"], mean=m["mean"],
                    )
                    for m in minutes
                ],
                ignore_conflicts=True,  # a minute already summarised by an earlier run stays as it was
                batch_size=2000,
            )  # fmt: skip
            removable.delete()
            audit_record(
                actor=actor,
                action="history.summarise",
                detail={
                    "start": start.isoformat(), "end": end.isoformat(), "minutes": len(minutes),
                    "summarised": summarised, "kept_used_by_scores": kept,
                },
            )  # fmt: skip
    return SummaryResult(start, end, len(minutes), summarised, kept, dry_run)


def prune_receipts(*, now: datetime, dry_run: bool, actor=None) -> int:
    """Delete idempotency receipts older than VW_RECEIPT_RETENTION_DAYS; how many (would) go.

    Safe for exactly-once: a device resends until acknowledged, and readings more than 7 days
    old are refused by the protocol's back window, so a receipt older than that can no longer
    be what stops a second copy (the unique index on each reading stands behind it anyway).
    """
    cutoff = now - timedelta(days=settings.VW_RECEIPT_RETENTION_DAYS)
    old = ReceivedMessage.objects.filter(received_at__lt=cutoff)
    if dry_run:
        return old.count()
    removed = 0
    while True:
        with transaction.atomic():
            chunk = list(old.values_list("pk", flat=True)[:RECEIPT_CHUNK])
            if not chunk:
                break
            removed += ReceivedMessage.objects.filter(pk__in=chunk).delete()[0]
    if removed:
        audit_record(
            actor=actor, action="history.prune_receipts", detail={"before": cutoff.isoformat(), "deleted": removed}
        )
    return removed


def _summary_cutoff() -> datetime | None:
    days = settings.VW_RAW_CONTINUOUS_DAYS
    return None if days == 0 else timezone.now() - timedelta(days=days)


def summarise_due(*, now: datetime, days_back: int = 7) -> list[SummaryResult]:
    """The beat's daily run: each of the last ``days_back`` whole days past the raw period.

    Days already summarised hold only readings that fed a score, so running again changes
    nothing and records nothing; a missed run is caught up by the next.
    """
    cutoff = _summary_cutoff()
    if cutoff is None:
        return []
    last = cutoff.replace(hour=0, minute=0, second=0, microsecond=0)
    results = []
    for back in range(days_back, 0, -1):
        start = last - timedelta(days=back)
        result = summarise_window(start=start, end=start + timedelta(days=1), dry_run=False)
        if result.summarised:
            results.append(result)
    return results

