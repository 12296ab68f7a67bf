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
from patients.vitals import CONSCIOUSNESS_NAMES, VitalValueError, clean_vital
from virtualward.datetimes import aware_datetime_problem

# The chart's periods, shortest first: an hour shows a fast deterioration reading by reading;
# "stay" (the whole admission) is resolved against the patient in the view.
PERIODS = {
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "24h": timedelta(hours=24),
    "72h": timedelta(hours=72),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
PERIOD_LABELS = {
    "1h": "1 hour",
    "6h": "6 hours",
    "24h": "24 hours",
    "72h": "3 days",
    "7d": "7 days",
    "30d": "30 days",
    "stay": "Whole stay",
}


def local_moment(moment: datetime) -> datetime:
    """A datetime-local field's value: it has no offset, so it is the ward's local time."""
    moment = timezone.make_aware(moment) if timezone.is_naive(moment) else moment
    problem = aware_datetime_problem(moment)
    if problem:
        raise forms.ValidationError(problem)
    return moment


# A paper NEWS2 chart's rows, in its order: (field name, label, what to type).
SET_FIELDS = [
    ("respiratory_rate", "Respiration rate", "breaths/min"),
    ("spo2", "SpO₂", "%"),
    ("on_oxygen", "Air or oxygen?", ""),
    ("systolic_bp", "Systolic blood pressure", "mmHg"),
    ("heart_rate", "Pulse", "beats/min"),
    ("consciousness", "Consciousness", "ACVPU"),
    ("temperature", "Temperature", "°C"),
]
NOT_RECORDED = ("", "— not recorded —")


class ObservationSetForm(forms.Form):
    """A full observation set, filled in like one column of a paper NEWS2 chart.

    Any subset of the seven parameters, taken at one time; a blank is "not recorded" (missing),
    never normal. Values are checked against the same plausible ranges as a device reading
    (patients.vitals), each error beside its own field.
    """

    measured_at = forms.DateTimeField(
        label="Taken at", widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    respiratory_rate = forms.CharField(required=False, max_length=10)
    spo2 = forms.CharField(required=False, max_length=10)
    on_oxygen = forms.ChoiceField(required=False, choices=[NOT_RECORDED, ("air", "Air"), ("oxygen", "Oxygen")])
    systolic_bp = forms.CharField(required=False, max_length=10)
    heart_rate = forms.CharField(required=False, max_length=10)
    consciousness = forms.ChoiceField(
        required=False,
        choices=[NOT_RECORDED, *((letter, f"{letter} – {name}") for letter, name in CONSCIOUSNESS_NAMES.items())],
    )
    temperature = forms.CharField(required=False, max_length=10)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            # The error paragraph beside each field (patient.html) is read with it.
            field.widget.attrs["aria-describedby"] = f"id_{name}-error"
        for name, label, unit in SET_FIELDS:
            field = self.fields[name]
            field.label = f"{label} ({unit})" if unit and name != "consciousness" else label
            if isinstance(field, forms.CharField):
                field.widget.attrs.update({"inputmode": "decimal", "autocomplete": "off", "size": 6})

    def clean_measured_at(self) -> datetime:
        return local_moment(self.cleaned_data["measured_at"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        values: dict[str, object] = {}
        for name, _label, _unit in SET_FIELDS:
            raw = (data.get(name) or "").strip()
            if raw:
                value = self._typed(name, raw)
                if value is not None:
                    values[name] = value
        if not values and not self.errors:
            raise forms.ValidationError("Enter at least one observation; leave blank what was not measured.")
        data["values"] = values
        return data

    def _typed(self, name: str, raw: str) -> object | None:
        if name == "on_oxygen":
            return raw == "oxygen"
        if name == "consciousness":
            return raw
        try:
            number = float(raw.replace(",", "."))
        except ValueError:
            self.add_error(name, f"{raw!r} is not a number.")
            return None
        try:
            clean_vital(name, number)
        except VitalValueError as exc:
            self.add_error(name, exc.message.replace(f"{name} value ", "", 1))
            return None
        return number


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


def parse_period(
    params: Any, now: datetime | None = None, *, stay_start: datetime | None = None
) -> tuple[datetime, datetime, str | None]:
    """A period from ``?period=24h`` or ``?since=&until=`` (ISO 8601 with offset); errors in words."""
    now = now or timezone.now()
    since_raw, until_raw = params.get("since"), params.get("until")
    if not since_raw and not until_raw:
        span = PERIODS.get(params.get("period") or "24h")
        if params.get("period") == "stay" and stay_start is not None:
            return min(stay_start, now - PERIODS["1h"]), now, None
        if span is None:
            known = [*PERIODS, "stay"] if stay_start is not None else list(PERIODS)
            return now - PERIODS["24h"], now, f"Unknown period; use one of {', '.join(known)}."
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
