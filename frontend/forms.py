"""Forms that translate what a person typed into the arguments of a service, with clear errors.

The services hold the clinical rules (ranges, units, who may act); these forms only turn text
into typed values and say plainly what is wrong with a field.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from alerts.outcomes import PERSON_OUTCOMES
from patients.services import SCALE_REASON_REQUIRED
from virtualward.datetimes import aware_datetime_problem

MANUAL_TYPES = [
    ("respiratory_rate", "Respiratory rate (/min, counted by a clinician)"),
    ("consciousness", "Consciousness (ACVPU)"),
    ("on_oxygen", "On supplemental oxygen"),
    ("o2_flow_rate", "Oxygen flow rate (L/min)"),
    ("spo2", "SpO₂ (%)"),
    ("systolic_bp", "Systolic blood pressure (mmHg)"),
    ("diastolic_bp", "Diastolic blood pressure (mmHg)"),
    ("heart_rate", "Pulse (/min)"),
    ("temperature", "Temperature (°C)"),
]
YES = {"yes", "true", "y", "1", "on"}
NO = {"no", "false", "n", "0", "off", "air"}
PERIODS = {
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "72h": timedelta(hours=72),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


class ManualObservationForm(forms.Form):
    type = forms.ChoiceField(choices=MANUAL_TYPES, label="Observation")
    value = forms.CharField(max_length=20, help_text="A number; A/C/V/P/U for consciousness; yes or no for oxygen.")
    measured_at = forms.DateTimeField(
        label="Taken at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )

    def clean_measured_at(self) -> datetime:
        moment = self.cleaned_data["measured_at"]
        # A datetime-local field has no offset: it is the ward's local time (Europe/London).
        moment = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
        problem = aware_datetime_problem(moment)
        if problem:
            raise forms.ValidationError(problem)
        return moment

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "type" in data and "value" in data:
            data["value"] = typed_value(data["type"], data["value"].strip(), self)
        return data


def typed_value(kind: str, raw: str, form: forms.Form) -> object:
    if kind == "consciousness":
        letter = raw.upper()
        if letter not in {"A", "C", "V", "P", "U"}:
            form.add_error("value", "Consciousness is one of A, C, V, P or U (ACVPU).")
        return letter
    if kind == "on_oxygen":
        if raw.lower() in YES:
            return True
        if raw.lower() in NO:
            return False
        form.add_error("value", "Say yes (on oxygen) or no (on air).")
        return raw
    try:
        return float(raw)
    except ValueError:
        form.add_error("value", f"{raw!r} is not a number.")
        return raw


class ScaleForm(forms.Form):
    scale = forms.TypedChoiceField(choices=[(1, "Scale 1"), (2, "Scale 2")], coerce=int)
    reason = forms.CharField(max_length=500, required=False)
    confirm_risk = forms.BooleanField(
        required=True,
        error_messages={"required": "Tick the box to confirm you have read the risk of changing the scale."},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # Setting and clearing Scale 2 are both clinical decisions with a hazard: both need a reason.
        if data.get("scale") in SCALE_REASON_REQUIRED and not (data.get("reason") or "").strip():
            self.add_error("reason", SCALE_REASON_REQUIRED[data["scale"]])
        return data


# "Review in…" on the resolve form: the times a nurse plans a call-back in.
REVIEW_CHOICES = [(15, "15 min"), (30, "30 min"), (60, "1 hour"), (120, "2 hours"), (240, "4 hours"), (720, "12 hours")]


class AlertActionForm(forms.Form):
    """One form for every triage action; which fields matter depends on the action."""

    note = forms.CharField(max_length=2000, required=False)
    outcome = forms.ChoiceField(choices=[("", "—"), *PERSON_OUTCOMES], required=False)
    assignee = forms.CharField(max_length=20, required=False)
    escalate_to = forms.CharField(max_length=60, required=False)
    snooze_minutes = forms.TypedChoiceField(
        choices=[("", "—"), (30, "30 min"), (60, "1 hour"), (240, "4 hours"), (720, "12 hours")],
        coerce=int,
        required=False,
        empty_value=None,
    )
    review_in = forms.TypedChoiceField(
        choices=[("", "—"), *REVIEW_CHOICES], coerce=int, required=False, empty_value=None
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        minutes = data.get("review_in")
        data["review_by"] = timezone.now() + timedelta(minutes=minutes) if minutes else None
        return data

    def require(self, action: str) -> None:
        if action == "note" and not self.cleaned_data.get("note", "").strip():
            self.add_error("note", "Write the note before adding it.")
        if action == "resolve" and not self.cleaned_data.get("outcome"):
            self.add_error("outcome", "Choose the outcome before resolving.")
        if action == "escalate" and not self.cleaned_data.get("escalate_to"):
            self.add_error("escalate_to", "Choose who to escalate to: a person or a role on duty.")
        if action == "snooze" and not self.cleaned_data.get("snooze_minutes"):
            self.add_error("snooze_minutes", "Choose how long to snooze the alert for.")
        if action == "assign" and not self.cleaned_data.get("assignee"):
            self.add_error("assignee", "Choose who to assign the alert to.")


def parse_period(params: Any, now: datetime | None = None) -> tuple[datetime, datetime, str | None]:
    """A period from ``?period=24h`` or ``?since=&until=`` (ISO 8601 with offset); errors in words."""
    now = now or timezone.now()
    since_raw, until_raw = params.get("since"), params.get("until")
    if not since_raw and not until_raw:
        span = PERIODS.get(params.get("period") or "24h")
        if span is None:
            return now - PERIODS["24h"], now, f"Unknown period; use one of {', '.join(PERIODS)}."
        return now - span, now, None
    try:
        until = _aware(until_raw) if until_raw else now
        since = _aware(since_raw) if since_raw else until - PERIODS["24h"]
    except ValueError as exc:
        return now - PERIODS["24h"], now, str(exc)
    if since >= until:
        return now - PERIODS["24h"], now, "The start of the period must be before its end."
    return since, until, None


def _aware(raw: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a date and time (use e.g. 2026-11-23T10:30:00Z).") from None
    moment = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    problem = aware_datetime_problem(moment)
    if problem:
        raise ValueError(problem)
    return moment
