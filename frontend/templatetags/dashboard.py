"""Small display helpers for the dashboard templates."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()

RISK_SHAPES = {"high": "◆", "medium": "▲", "low-medium": "●", "low": "○"}
RISK_WORDS = {"high": "HIGH", "medium": "MEDIUM", "low-medium": "LOW–MEDIUM", "low": "LOW"}


@register.filter
def nhs(number: str) -> str:
    """NHS numbers are read aloud and written in groups of 3, 3 and 4 digits."""
    return f"{number[:3]} {number[3:6]} {number[6:]}" if len(number) == 10 else number


@register.filter
def when(moment: datetime | None) -> str:
    """Clock time for today, day and time for anything older: a shift spans midnight."""
    if moment is None:
        return "never"
    local = timezone.localtime(moment)
    if local.date() == timezone.localdate():
        return date_format(local, "H:i")
    return date_format(local, "D j M H:i")


@register.filter
def risk_shape(risk: str | None) -> str:
    return RISK_SHAPES.get(risk or "", "?")


@register.filter
def risk_word(risk: str | None) -> str:
    return RISK_WORDS.get(risk or "", "NO SCORE")


@register.filter
def severity_risk(severity: int) -> str:
    from frontend.selectors import SEVERITY_TO_RISK

    return SEVERITY_TO_RISK.get(severity, "low")


@register.filter
def duration(seconds: float | None) -> str:
    """Seconds as a clinician says it: '45 s', '12 min', '3 h 20 min'."""
    if seconds is None:
        return "—"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


@register.filter
def outcome_label(value: str) -> str:
    from alerts.models import Outcome

    return Outcome(value).label if value in Outcome.values else value


@register.filter
def percent(share: float | None) -> str:
    """A share (0–1) as a whole percentage; '—' when nothing was counted."""
    return "—" if share is None else f"{round(share * 100)} %"
