"""Snoozing a technical alert for a stated time with a reason: a noise floor, never for clinical alerts.

A device known to be charging, a patient out for a scan: the alert stays in the queue (below the
rest, saying why and until when) and its escalation ladder calls nobody until the snooze ends.
A clinical alert is never snoozed — above all a HIGH one — its answer is acknowledge, or resolve
with a review time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerts.models import CLINICAL_KINDS, Alert, AlertEvent
from alerts.services.actions import AlertActionError, _act, _clean_note, _require_live

MIN_SNOOZE_MINUTES = 5
MAX_SNOOZE_MINUTES = 24 * 60


def alert_snooze(*, alert: Alert, user: Any, minutes: int, reason: str) -> Alert:
    if alert.kind in CLINICAL_KINDS:
        raise AlertActionError(
            "Clinical alerts are never snoozed: acknowledge it, or resolve it with an outcome and a review time."
        )
    text = _clean_note(reason)
    if not text:
        raise AlertActionError("Say why the alert is snoozed (e.g. device charging overnight).")
    if not MIN_SNOOZE_MINUTES <= minutes <= MAX_SNOOZE_MINUTES:
        raise AlertActionError(f"Snooze for {MIN_SNOOZE_MINUTES} minutes to 24 hours.")

    def change(locked: Alert, now: datetime) -> dict:
        _require_live(locked, "snooze")
        locked.snoozed_until = now + timedelta(minutes=minutes)
        locked.snooze_reason = text[:300]
        return {"until": locked.snoozed_until.isoformat(), "minutes": minutes}

    return _act(alert, user, AlertEvent.Action.SNOOZED, change, note=text)
