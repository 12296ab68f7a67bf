"""What an alert says now: what it was raised for, beside the patient's state at this moment.

An alert's title is written when it is raised. A patient raised at NEWS2 7 may be at 15 an hour
later, or at 1: a screen that shows the title alone presents a stale figure as current. Every
screen therefore shows an alert through these functions: the figure it was raised for, always
labelled "when raised", and the current score with its band, the parameters driving it and the
change since. Pure functions over an alert and the patient's current score (no queries), so a
queue of fifty costs nothing more than the select_related that loaded them; the one exception is
the patient's agreed parameters, read from the prefetch alerts.selectors and the patient page
make (careplan.selectors.live_limits_prefetch), else one query for that patient.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from alerts.models import CLINICAL_KINDS, Alert, AlertKind, AlertState, Severity
from careplan.selectors import agreed_now

BAND_RANK = {"low": 0, "low-medium": 1, "medium": 2, "high": 3}
BAND_LABEL = {"low": "Low", "low-medium": "Low–medium", "medium": "Medium", "high": "High"}
SEVERITY_BAND = {
    Severity.HIGH: "high",
    Severity.MEDIUM: "medium",
    Severity.LOW_MEDIUM: "low-medium",
    Severity.LOW: "low",
    Severity.INFO: "low",
}
DRIVER_LABEL = {
    "respiratory_rate": "Resp",
    "spo2": "SpO₂",
    "on_oxygen": "Air/O₂",
    "systolic_bp": "Sys BP",
    "heart_rate": "Pulse",
    "consciousness": "ACVPU",
    "temperature": "Temp",
}


def alert_band(alert: Alert) -> str:
    """The NEWS2 band a risk alert stands for (its raised band, or its severity's)."""
    return alert.raised_risk or SEVERITY_BAND.get(alert.severity, "low")


def still_in_band(alert: Alert, score: Any) -> bool:
    """Is the patient still where this clinical alert put them? Unknown (no score) counts as yes.

    A risk alert: the current band is at or above the alert's. A single-parameter alert: some
    parameter still scores 3. A missing score is never taken as recovery.
    """
    if alert.kind not in (AlertKind.NEWS2_RISK, AlertKind.SINGLE_PARAMETER):
        return False
    if score is None:
        return True
    if alert.kind == AlertKind.NEWS2_RISK:
        return BAND_RANK.get(score.risk, 0) >= BAND_RANK.get(_band_of_severity(alert), 0)
    return any((sub or {}).get("score") == 3 for sub in (score.sub_scores or {}).values())


def _band_of_severity(alert: Alert) -> str:
    # An alert escalated in place (medium → high) stands for its band now, not its first one.
    return SEVERITY_BAND.get(alert.severity, "low")


def patient_now(alert: Alert, score: Any) -> dict[str, Any] | None:
    """The patient's current NEWS2 for the card: total, band, drivers, change since raised."""
    if score is None:
        return None
    change = score.total - alert.raised_total if alert.raised_total is not None else None
    drivers = [
        {
            "parameter": name,
            "label": DRIVER_LABEL.get(name, name),
            "value": _tidy(sub.get("value")),
            "score": sub["score"],
        }
        for name, sub in (score.sub_scores or {}).items()
        if isinstance(sub, dict) and sub.get("score")
    ]
    drivers.sort(key=lambda d: -d["score"])
    # What the patient's agreed parameters make of this score (careplan.rules): the total stays
    # the chart's; "within agreed parameters" is said beside it, never instead of it.
    agreed = agreed_now(alert.patient, score)
    return {
        "score_id": score.pk,
        "total": score.total,
        "risk": score.risk,
        "risk_label": BAND_LABEL.get(score.risk, score.risk),
        "complete": score.complete,
        "missing": [DRIVER_LABEL.get(name, name) for name in score.missing or []],
        "as_of": score.as_of,
        "drivers": drivers,
        "change_since_raised": change,
        "trend": None if change is None else ("up" if change > 0 else "down" if change < 0 else "same"),
        "trend_words": trend_in_words(score.total, alert.raised_total, alert.opened_at, baseline="raised"),
        "in_band": still_in_band(alert, score) if alert.kind in CLINICAL_KINDS else None,
        "agreed": agreed,
        "agreed_text": agreed["text"] if agreed and (agreed["within"] or agreed["set_aside"]) else "",
    }


def trend_in_words(
    current: int | None, previous: int | None, since: datetime | None, *, baseline: str = "scored"
) -> dict[str, str] | None:
    """A NEWS2 change as words ("worse since 10:40 (+2, was 5)"), for a neutral-coloured label.

    An arrow coloured by direction misleads: a green "down" on a patient still at 15 HIGH reads
    as reassurance. The word says which way is worse (a higher NEWS2 is), the time says since
    when, and the band colour stays on the score itself, never on the change.
    """
    if current is None or previous is None:
        return None
    at = _clock(since)
    direction = "worse" if current > previous else "better" if current < previous else "same"
    if direction == "same":
        text = f"no change since {baseline} at {at}" if baseline != "scored" else f"no change since {at}"
    else:
        where = f"{baseline} at {at}" if baseline != "scored" else at
        text = f"{direction} since {where} ({current - previous:+d}, was {previous})"
    return {"direction": direction, "text": text, "shape": {"worse": "▲", "better": "▼", "same": "="}[direction]}


def _clock(moment: datetime | None) -> str:
    # The ward's clock (Europe/London); a day name when it was not today, as shifts span midnight.
    if moment is None:
        return "an earlier score"
    local = timezone.localtime(moment)
    return f"{local:%H:%M}" if local.date() == timezone.localdate() else f"{local:%a %H:%M}"


def raised_for(alert: Alert) -> str:
    """What the alert was raised for, worded as the past it is."""
    if alert.kind == AlertKind.NEWS2_RISK and alert.raised_total is not None:
        band = BAND_LABEL.get(alert.raised_risk, alert.raised_risk).lower()
        within = agreed_words(alert)
        if within:
            return f"NEWS2 {alert.raised_total}{within}, alerting at {band} risk, when raised"
        return f"NEWS2 {alert.raised_total} ({band} risk) when raised"
    return alert.title


def agreed_words(alert: Alert) -> str:
    """ " · within agreed parameters" when the patient's agreed parameters shaped the alert."""
    return " · within agreed parameters" if (alert.agreed or {}).get("within") else ""


def headline(alert: Alert, score: Any = None) -> str:
    """One line that never shows a stale figure as current (titles, banners, chips)."""
    if alert.kind not in CLINICAL_KINDS:
        return f"Technical: {alert.title}"
    now = f"NEWS2 now {score.total} {BAND_LABEL.get(score.risk, score.risk).upper()}" if score is not None else ""
    if now and (alert.agreed or {}).get("within"):
        now += " · within agreed parameters when raised"
    if alert.kind == AlertKind.NEWS2_RISK:
        band = BAND_LABEL[_band_of_severity(alert)]
        when = f"raised at {alert.raised_total}" if alert.raised_total is not None else ""
        parts = [f"{band}-risk alert", now, when]
        return " · ".join(part for part in parts if part)
    suffix = " (when raised)" if alert.kind == AlertKind.SINGLE_PARAMETER else ""
    return " · ".join(part for part in (f"{alert.title}{suffix}", now) if part)


def owner(alert: Alert) -> Any:
    """Who owns the alert: the person it is assigned to (acknowledging takes it when unowned)."""
    return alert.assigned_to if alert.assigned_to_id is not None else None


def waiting_seconds(alert: Alert, now: datetime) -> float | None:
    """How long the alert has waited for a person: since raised (or reopened) while open."""
    if alert.state != AlertState.OPEN:
        return None
    return max((now - (alert.reopened_at or alert.opened_at)).total_seconds(), 0.0)


def _tidy(value: Any) -> Any:
    if isinstance(value, bool):
        return "on oxygen" if value else "air"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
